package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// outputFormat is every command's -o/--output. It is checked once, as the
// flag is parsed: a command never sees a format it cannot print.
type outputFormat string

const (
	outputText outputFormat = "text"
	outputJSON outputFormat = "json"
)

// Set implements pflag.Value.
func (f *outputFormat) Set(v string) error {
	switch outputFormat(v) {
	case outputText, outputJSON:
		*f = outputFormat(v)
		return nil
	}
	return fmt.Errorf("%q: want text or json", v)
}

func (f outputFormat) String() string { return string(f) }

// Type implements pflag.Value.
func (f *outputFormat) Type() string { return "text|json" }

// addOutputFlag binds -o/--output to f, text by default.
func addOutputFlag(fs *pflag.FlagSet, f *outputFormat) {
	*f = outputText
	fs.VarP(f, "output", "o", "output format: text or json")
}

// textWriter is a result that writes itself for a person; its package
// owns the wording, the command only picks the format.
type textWriter interface{ WriteText(io.Writer) error }

// printResult writes r as JSON or as its text.
func printResult(w io.Writer, format outputFormat, r textWriter) error {
	if format == outputJSON {
		return writeJSON(w, r)
	}
	return r.WriteText(w)
}

// writeJSON writes v as one JSON document: indented for a person at a
// terminal, one line otherwise, so a log pipeline (Fluent Bit to
// CloudWatch Logs) keeps it as one event.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	if isTerminal(w) {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
