package outputtest

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// result writes a title line and a body; ownError: when a write fails it
// returns an error of its own in place of the writer's.
type result struct {
	body     string
	ownError bool
}

func (r result) WriteText(w io.Writer) error {
	fmt.Fprintln(w, "archiver test: ok")
	if r.body == "" {
		return nil
	}
	if _, err := io.WriteString(w, r.body); err != nil && r.ownError {
		return errors.New("could not print")
	}
	return nil // a dropped write error is still reported by output.Write
}

func TestProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    result
		want []string // each a part of one problem, in order
	}{
		{"a result that writes its lines", result{body: "  body\n  tail\n"}, nil},
		{"a result whose error hides the writer's", result{body: strings.Repeat("  body line\n", 500), ownError: true},
			[]string{"takes nothing: could not print, want error true (disk full)"}},
		{"a result with a title line only", result{}, []string{"no line after a title line"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Problems(tc.r)
			if len(got) < len(tc.want) || (tc.want == nil && len(got) != 0) {
				t.Fatalf("Problems: %q, want %d like %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d: %q, want it to say %q", i, got[i], w)
				}
			}
		})
	}
}
