// Package outputtest checks what every result that writes itself
// (output.Result) must do with its writer: CheckWriteText writes the
// result to a working writer, to one that fails at once and to one that
// fails at the end of each line but the last, and fails the test unless
// WriteText returns the writer's error from the failing ones and writes
// its whole text to the working one (Problems says what is wrong).
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

// Problems writes r to a working writer, to one that takes nothing and to
// one that fails at each line's end but the last, and says, one line each, where
// WriteText did not return the failing writer's error or did not write to
// the working writer what it writes to a buffer. None: r passes.
func Problems(r output.Result) []string {
	var full strings.Builder
	if err := r.WriteText(&full); err != nil {
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
		err := r.WriteText(w)
		switch {
		case (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrWrite)):
			problems = append(problems, fmt.Sprintf("WriteText to %s: %v, want error %v (%v)", tc.name, err, tc.wantErr, ErrWrite))
		case !tc.wantErr && w.b.String() != full.String():
			problems = append(problems, fmt.Sprintf("WriteText to %s wrote %q, want %q", tc.name, w.b.String(), full.String()))
		}
	}
	return problems
}
