package doctor

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// Count is how many checks of r have status (OK, Warn or Fail).
func (r *Report) Count(status string) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == status {
			n++
		}
	}
	return n
}

// WriteText writes r for a person: one line per check, marked ok, WARN or
// FAIL (JSON is r itself).
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "archiver doctor: %s\n", r.Status)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range r.Checks {
		mark := map[string]string{OK: "ok", Warn: "WARN", Fail: "FAIL"}[c.Status]
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", mark, c.Name, c.Detail)
	}
	return tw.Flush()
}
