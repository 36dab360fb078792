package doctor

import (
	"bufio"
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
func (r *Report) WriteText(out io.Writer) error {
	w := bufio.NewWriter(out) // keeps the first write error for Flush
	output.Title{Command: "doctor", Status: r.Status}.Write(w)
	t := output.NewTable(w, "  ")
	for _, c := range r.Checks {
		mark := map[string]string{OK: "ok", Warn: "WARN", Fail: "FAIL"}[c.Status]
		t.Row(mark, c.Name, c.Detail)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	return w.Flush()
}
