package restore

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/xroad-archiver/archiver/internal/progress"
)

// WriteText writes r for a person: a summary table, then one line per
// planned, existing or failed file (JSON is r itself).
func (r *Result) WriteText(w io.Writer) error {
	title := "archiver restore"
	if r.DryRun {
		title += " (dry run: nothing written)"
	}
	fmt.Fprintf(w, "%s: %s\n", title, r.Status)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "  %s\t%s\n", k, v) }
	row("from", r.From)
	if r.RunID != "" {
		row("as of run", r.RunID)
	}
	row("to", r.To)
	row("selected", fmt.Sprintf("%d files, %s", r.Selected.Files, progress.Bytes(r.Selected.Bytes)))
	if !r.DryRun {
		row("restored", fmt.Sprintf("%d files, %s", r.Restored.Files, progress.Bytes(r.Restored.Bytes)))
	}
	row("already present", fmt.Sprintf("%d files (identical)", len(r.Present)))
	row("duration", fmt.Sprintf("%.2fs", r.DurationSec))
	tw.Flush()
	for _, it := range r.Planned {
		fmt.Fprintf(w, "  restore  %s (%s)", it.Path, progress.Bytes(it.Size))
		if it.Reason != "" {
			fmt.Fprintf(w, ": %s", it.Reason)
		}
		fmt.Fprintln(w)
	}
	for _, it := range r.Existing {
		fmt.Fprintf(w, "  EXISTS   %s: %s\n", it.Path, it.Reason)
	}
	for _, it := range r.Failed {
		fmt.Fprintf(w, "  FAILED   %s: %s\n", it.Path, it.Reason)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  ERROR    %s\n", r.Error)
	}
	return nil
}
