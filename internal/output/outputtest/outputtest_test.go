package outputtest

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// result writes a title line and a body line; passOn: it returns the
// body's write error, else it drops it.
type result struct {
	passOn bool
	body   string
	tail   string // written after body, its error always dropped
}

func (r result) WriteText(w io.Writer) error {
	fmt.Fprintln(w, "archiver test: ok")
	if r.body == "" {
		return nil
	}
	_, err := io.WriteString(w, r.body)
	io.WriteString(w, r.tail)
	if r.passOn {
		return err
	}
	return nil
}

func TestProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    result
		want []string // each a part of one problem, in order
	}{
		{"a result that passes the error on", result{passOn: true, body: "  body\n"}, nil},
		{"a result that drops the error", result{body: "  body\n"},
			[]string{"takes nothing: <nil>, want error true", "fails after 18 bytes (a line's end): <nil>, want error true"}},
		{"a result that drops the last line's error", result{passOn: true, body: "  body\n", tail: "  tail\n"},
			[]string{"fails after 25 bytes (a line's end): <nil>, want error true"}},
		{"a result with a title line only", result{passOn: true}, []string{"no line after a title line"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Problems(tc.r)
			if len(got) != len(tc.want) {
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
