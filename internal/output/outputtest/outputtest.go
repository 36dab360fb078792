// Package outputtest checks that a result that writes itself
// (output.Result) reaches its reader whole or reports why not:
// CheckWriteText writes the result as text with output.Write, the way
// every command prints, to a working writer, to one that fails at once
// and to one that fails at the end of each line but the last, and fails
// the test unless the failing ones' error is returned and the working one
// gets the whole text (Problems says what is wrong).
//
// It is test support: it must not be imported by code that ships in the
// binary, and it checks only the writer's error, never a result's words
// (its package's tests do).
package outputtest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/xroad-archiver/archiver/internal/output"
)

// ErrWrite is what a failing writer of CheckWriteText returns.
var ErrWrite = errors.New("disk full")

// brokenWriter takes ok bytes, then fails every write with ErrWrite.
type brokenWriter struct {
	ok int
	b  strings.Builder
}

func (w *brokenWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.ok {
		return 0, ErrWrite
	}
	return w.b.Write(p)
}

// CheckWriteText fails t with each of Problems(r).
func CheckWriteText(t testing.TB, r output.Result) {
	t.Helper()
	for _, p := range Problems(r) {
		t.Error(p)
	}
}

// Problems writes r as text (output.Write) to a working writer, to one
// that takes nothing and to one that fails at each line's end but the
// last, and says, one line each, where the failing writer's error was not
// returned or the working writer did not get what a buffer gets. None: r
// passes.
func Problems(r output.Result) []string {
	var full strings.Builder
	if err := output.Write(&full, output.Text, r); err != nil {
		return []string{fmt.Sprintf("WriteText to a buffer: %v", err)}
	}
	title := strings.Index(full.String(), "\n") + 1
	if title == 0 || title == full.Len() {
		return []string{fmt.Sprintf("WriteText wrote no line after a title line: %q", full.String())}
	}
	var problems []string
	type writerCase struct {
		name    string
		ok      int
		wantErr bool
	}
	cases := []writerCase{{"a writer that takes everything", full.Len(), false}, {"a writer that takes nothing", 0, true}}
	for i, c := range full.String()[:full.Len()-1] {
		if c == '\n' { // a writer that fails at the start of each further line
			cases = append(cases, writerCase{fmt.Sprintf("a writer that fails after %d bytes (a line's end)", i+1), i + 1, true})
		}
	}
	for _, tc := range cases {
		w := &brokenWriter{ok: tc.ok}
		err := output.Write(w, output.Text, r)
		switch {
		case (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrWrite)):
			problems = append(problems, fmt.Sprintf("WriteText to %s: %v, want error %v (%v)", tc.name, err, tc.wantErr, ErrWrite))
		case !tc.wantErr && w.b.String() != full.String():
			problems = append(problems, fmt.Sprintf("WriteText to %s wrote %q, want %q", tc.name, w.b.String(), full.String()))
		}
	}
	return problems
}
