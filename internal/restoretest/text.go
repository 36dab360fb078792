package restoretest

import (
	"fmt"
	"io"

	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/output"
)

// WriteText writes r for a person: the backup restored, the verifier's
// check with its problems, timings and cleanup (JSON is r itself).
func (r *Result) WriteText(w io.Writer) error {
	if r == nil {
		return nil
	}
	output.Title{Command: "restore-test", Status: string(r.Status), Notes: []string{"run " + r.RunID}}.Write(w)
	fmt.Fprintf(w, "  %s %s of %s (%s, run %s) into namespace %s\n", r.Backup.Kind, r.Backup.ID, r.Source, r.Kind, r.Backup.RunID, r.Namespace)
	if r.Check != nil {
		c := r.Check
		fmt.Fprintf(w, "  %d of %d files verified, %d archives chain-checked, %d changed after the backup\n", c.Verified, c.Expected, c.Archives, c.Changed)
		for _, p := range c.Problems {
			fmt.Fprintf(w, "    %-11s %s %s\n", p.Kind, p.Path, p.Detail)
		}
		if c.Omitted > 0 {
			fmt.Fprintf(w, "    ... and %d more\n", c.Omitted)
		}
	}
	fmt.Fprintf(w, "  restore %.1fs, verify %.1fs, total %.1fs\n", r.RestoreSec, r.VerifySec, r.TotalSec)
	if r.LeftOnEFS != "" && r.PVC == "" {
		fmt.Fprintf(w, "  the restore job's copy stays on EFS at %s (remove it when no longer needed)\n", r.LeftOnEFS)
	}
	if r.PVC != "" && r.Status == outcome.StatusOK {
		fmt.Fprintf(w, "  restored PVC %s is ready to mount\n", r.PVC)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", r.Error)
	}
	fmt.Fprintf(w, "  cleaned up %d objects", len(r.Deleted))
	if len(r.Leftovers) > 0 {
		fmt.Fprintf(w, " (and %d left by earlier runs)", len(r.Leftovers))
	}
	fmt.Fprintln(w)
	return nil
}

// DryRunPlan is what a drill would do (restore-test --dry-run), creating
// nothing.
type DryRunPlan struct {
	DryRun    bool     `json:"dry_run"`
	Source    string   `json:"source"`
	Backup    Backup   `json:"backup"`
	Namespace string   `json:"namespace"`
	Create    []string `json:"would_create"`
}

// NewDryRunPlan is the plan of a drill with o (see Plan).
func NewDryRunPlan(do Options) *DryRunPlan {
	plan := &DryRunPlan{true, do.Source.Ref(), do.Backup, do.Namespace, Plan(do)}
	if do.Archives != nil {
		plan.Source = do.Archives.Dest
	}
	return plan
}

// WriteText writes the plan for a person (JSON is the plan itself).
func (plan *DryRunPlan) WriteText(w io.Writer) error {
	output.Title{Command: "restore-test", DryRun: true, Untouched: "nothing created"}.Write(w)
	fmt.Fprintf(w, "  %s %s of %s (run %s) into namespace %s\n", plan.Backup.Kind, plan.Backup.ID, plan.Source, plan.Backup.RunID, plan.Namespace)
	for _, c := range plan.Create {
		fmt.Fprintf(w, "  would create %s\n", c)
	}
	return nil
}
