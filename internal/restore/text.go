package restore

import (
	"fmt"
	"io"

	"github.com/xroad-archiver/archiver/internal/output"
	"github.com/xroad-archiver/archiver/internal/progress"
)

// WriteText writes r for a person: a summary table, then one line per
// planned, existing or failed file (JSON is r itself).
func (r *Result) WriteText(w io.Writer) error {
	output.Title{Command: "restore", DryRun: r.DryRun, Untouched: "nothing written", Status: string(r.Status)}.Write(w)
	t := output.NewTable(w, "  ")
	t.Row("from", r.From)
	if r.RunID != "" {
		t.Row("as of run", r.RunID)
	}
	t.Row("to", r.To)
	t.Row("selected", fmt.Sprintf("%d files, %s", r.Selected.Files, progress.Bytes(r.Selected.Bytes)))
	if !r.DryRun {
		t.Row("restored", fmt.Sprintf("%d files, %s", r.Restored.Files, progress.Bytes(r.Restored.Bytes)))
	}
	t.Row("already present", fmt.Sprintf("%d files (identical)", len(r.Present)))
	t.Row("duration", fmt.Sprintf("%.2fs", r.DurationSec))
	if err := t.Flush(); err != nil {
		return err
	}
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
