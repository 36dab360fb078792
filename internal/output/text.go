package output

import (
	"io"
	"strings"
	"text/tabwriter"
)

// Title is the first line of a result's text, the same frame for every
// command:
//
//	archiver COMMAND[ (dry run: UNTOUCHED)][: STATUS][ (NOTE, NOTE, ...)]
//
// The words in it are the result's package's.
type Title struct {
	Command   string   // "sync", "restore-test", ...
	DryRun    bool     // the result is a dry run's
	Untouched string   // what a dry run leaves alone: "nothing changed"
	Status    string   // the result's status; empty: the line has none
	Notes     []string // after the status, in parentheses: "run ID", "1.2s"
}

// Write writes t and a newline to w.
func (t Title) Write(w io.Writer) error {
	var b strings.Builder
	b.WriteString("archiver " + t.Command)
	if t.DryRun {
		b.WriteString(" (dry run: " + t.Untouched + ")")
	}
	if t.Status != "" {
		b.WriteString(": " + t.Status)
	}
	if len(t.Notes) > 0 {
		b.WriteString(" (" + strings.Join(t.Notes, ", ") + ")")
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Table lays out rows of cells for a person, as text/tabwriter does:
// each row after an indent, each column as wide as its widest cell plus
// two spaces (a row's last cell is not padded). Rows are held until Flush
// (a row of one cell ends the block above it, as in text/tabwriter).
type Table struct {
	tw     *tabwriter.Writer
	indent string
}

// NewTable returns a table that writes to w, each row after indent.
func NewTable(w io.Writer, indent string) *Table {
	return &Table{tabwriter.NewWriter(w, 0, 0, 2, ' ', 0), indent}
}

// Row adds a row. It returns no error: the writer sees the rows at Flush,
// which returns one.
func (t *Table) Row(cells ...string) {
	io.WriteString(t.tw, t.indent+strings.Join(cells, "\t")+"\n")
}

// Flush writes the rows added since the last Flush, aligned.
func (t *Table) Flush() error { return t.tw.Flush() }
