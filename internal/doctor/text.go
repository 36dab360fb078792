package doctor

import (
	"io"

	"github.com/xroad-archiver/archiver/internal/output"
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
	output.Title{Command: "doctor", Status: r.Status}.Write(w)
	t := output.NewTable(w, "  ")
	for _, c := range r.Checks {
		mark := map[string]string{OK: "ok", Warn: "WARN", Fail: "FAIL"}[c.Status]
		t.Row(mark, c.Name, c.Detail)
	}
	return t.Flush()
}
