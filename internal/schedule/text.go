package schedule

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes r for a person: the run's status, then one line per
// job with its status, duration and error (JSON is r itself).
func (r *Report) WriteText(w io.Writer) error {
	if r == nil {
		return nil
	}
	fmt.Fprintf(w, "archiver run: %s (run %s, %.1fs)\n", r.Status, r.RunID, r.DurationSec)
	for _, j := range r.Jobs {
		fmt.Fprintf(w, "  %-9s %-8s %.1fs", j.Name, j.Status, j.DurationSec)
		if j.Error != "" {
			fmt.Fprintf(w, "  %s", strings.ReplaceAll(j.Error, "\n", " "))
		}
		fmt.Fprintln(w)
	}
	return nil
}
