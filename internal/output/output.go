// Package output writes a command's result for its reader: as the
// result's own text (its package owns the wording: WriteText) or as one
// JSON document, indented for a person at a terminal and on one line
// otherwise, so a log pipeline (Fluent Bit to CloudWatch Logs) keeps it as
// one event. Format is the -o/--output value, checked once as it is
// parsed, so a command never sees a format it cannot print. The frame
// every result's text shares is here too: the title line ("archiver
// sync: ok (run ...)", Title) and the aligned table under it (Table).
//
// Write also reports a text's failed write, whichever line failed, so a
// WriteText may write line by line without checking each one.
//
// It owns only the choice and the encoding of the format and that frame;
// it must not word any result (the words in a Title or a Table are the
// result's package's), decide exit codes, or import anything of ours.
package output

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// Format is how a result is written: Text or JSON.
type Format string

const (
	Text Format = "text"
	JSON Format = "json"
)

// Set implements pflag.Value: only Text and JSON are accepted.
func (f *Format) Set(v string) error {
	switch Format(v) {
	case Text, JSON:
		*f = Format(v)
		return nil
	}
	return fmt.Errorf("%q: want text or json", v)
}

func (f Format) String() string { return string(f) }

// Type implements pflag.Value.
func (f *Format) Type() string { return "text|json" }

// Result is a result that writes itself for a person.
type Result interface{ WriteText(io.Writer) error }

// Write writes r in format f: JSON (WriteJSON) or r's text. The text goes
// through a buffer that keeps the first write error, so a text written in
// many lines reports a failed write whichever line failed, though
// WriteText need not check each one.
func Write(w io.Writer, f Format, r Result) error {
	if f == JSON {
		return WriteJSON(w, r)
	}
	bw := bufio.NewWriter(w)
	err := r.WriteText(bw)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return err
}

// WriteJSON writes v as one JSON document: indented when w is a
// terminal, one line otherwise.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	if IsTerminal(w) {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
