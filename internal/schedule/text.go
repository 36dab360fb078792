package schedule

import (
	"fmt"
	"io"
	"strings"

	"github.com/xroad-archiver/archiver/internal/output"
)

// WriteText writes r for a person: the run's status, then one line per
// job with its status, duration and error (JSON is r itself).
func (r *Report) WriteText(w io.Writer) error {
	if r == nil {
		return nil
	}
	output.Title{Command: "run", Status: string(r.Status), Notes: []string{"run " + r.RunID, fmt.Sprintf("%.1fs", r.DurationSec)}}.Write(w)
	for _, j := range r.Jobs {
		fmt.Fprintf(w, "  %-9s %-8s %.1fs", j.Name, j.Status, j.DurationSec)
		if j.Error != "" {
			fmt.Fprintf(w, "  %s", strings.ReplaceAll(j.Error, "\n", " "))
		}
		fmt.Fprintln(w)
	}
	return nil
}
