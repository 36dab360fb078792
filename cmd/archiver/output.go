package main

import (
	"fmt"

	"github.com/spf13/pflag"
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
