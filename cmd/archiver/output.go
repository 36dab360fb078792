package main

import (
	"github.com/spf13/pflag"

	"github.com/xroad-archiver/archiver/internal/output"
)

// addOutputFlag binds -o/--output to f, text by default; internal/output
// checks the value as it is parsed and writes the result.
func addOutputFlag(fs *pflag.FlagSet, f *output.Format) {
	*f = output.Text
	fs.VarP(f, "output", "o", "output format: text or json")
}
