package s3sync

import (
	"fmt"
	"io"
	"strings"

	"github.com/xroad-archiver/archiver/internal/output"
	"github.com/xroad-archiver/archiver/internal/progress"
)

// WriteText writes r for a person: a summary table, then one line per
// planned, conflicting, skipped or failed file (JSON is r itself).
func (r *Result) WriteText(w io.Writer) error {
	output.Title{Command: "sync", DryRun: r.DryRun, Untouched: "nothing changed", Status: string(r.Status), Notes: []string{"run " + r.RunID}}.Write(w)
	t := output.NewTable(w, "  ")
	count := func(c Count) string {
		return fmt.Sprintf("%d files, %s", c.Files, progress.Bytes(c.Bytes))
	}
	t.Row("source", r.Source)
	t.Row("destination", r.Destination)
	if r.DryRun {
		t.Row("would ship", fmt.Sprintf("%d files", len(r.Planned)))
	} else {
		t.Row("uploaded", fmt.Sprintf("%s (stored %s)", count(r.Uploaded), progress.Bytes(r.StoredBytes)))
		if r.Resumed.Files > 0 {
			t.Row("resumed", count(r.Resumed))
		}
		if r.Adopted.Files > 0 {
			t.Row("adopted", count(r.Adopted)+" already stored by an interrupted run")
		}
	}
	t.Row("unchanged", count(r.Unchanged))
	if len(r.Waiting) > 0 {
		t.Row("waiting", fmt.Sprintf("%d backups still being written (quiet period): %s", len(r.Waiting), strings.Join(r.Waiting, ", ")))
	}
	t.Row("ignored", fmt.Sprintf("%d working files", r.Ignored))
	if r.DryRun && len(r.PrunePlanned) > 0 {
		t.Row("would prune", fmt.Sprintf("%d files", len(r.PrunePlanned)))
	} else if r.Pruned.Files > 0 {
		t.Row("pruned", count(r.Pruned))
	}
	if r.Manifest != "" {
		t.Row("manifest", r.Manifest)
	}
	t.Row("backlog", fmt.Sprintf("%d files, %s not yet archived", r.Backlog.Files, progress.Bytes(r.Backlog.Bytes)))
	t.Row("duration", fmt.Sprintf("%.2fs", r.DurationSec))
	if err := t.Flush(); err != nil {
		return err
	}
	for _, p := range r.Planned {
		fmt.Fprintf(w, "  ship   %s\n", p)
	}
	for _, p := range r.PrunePlanned {
		fmt.Fprintf(w, "  prune  %s\n", p)
	}
	for _, c := range r.Conflicts {
		fmt.Fprintf(w, "  CONFLICT %s: archived content %.16s kept at %s; new content %.16s stored at %s\n", c.Path, c.ArchivedSHA, c.ArchivedKey, c.NewSHA, c.NewKey)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "  SKIPPED  %s: %s\n", s.Rel, s.Reason)
	}
	for _, f := range r.Failed {
		fmt.Fprintf(w, "  FAILED   %s: %s\n", f.Path, f.Error)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  ERROR    %s\n", r.Error)
	}
	return nil
}
