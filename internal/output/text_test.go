package output

import (
	"errors"
	"strings"
	"testing"
)

func TestTitleFramesTheStatus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		title Title
		want  string
	}{
		{"status only", Title{Command: "verify", Status: "ok"}, "archiver verify: ok\n"},
		{"notes", Title{Command: "run", Status: "partial", Notes: []string{"run r1", "1.5s"}}, "archiver run: partial (run r1, 1.5s)\n"},
		{"dry run", Title{Command: "sync", DryRun: true, Untouched: "nothing changed", Status: "ok", Notes: []string{"run r2"}}, "archiver sync (dry run: nothing changed): ok (run r2)\n"},
		{"not a dry run: untouched unsaid", Title{Command: "restore", Untouched: "nothing written", Status: "failed"}, "archiver restore: failed\n"},
		{"no status", Title{Command: "restore-test", DryRun: true, Untouched: "nothing created"}, "archiver restore-test (dry run: nothing created)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := tc.title.Write(&b); err != nil || b.String() != tc.want {
				t.Errorf("got %q (%v), want %q", b.String(), err, tc.want)
			}
		})
	}
}

func TestTableAlignsColumns(t *testing.T) {
	for _, tc := range []struct {
		name   string
		indent string
		rows   [][]string
		want   string
	}{
		{"two columns, indented", "  ", [][]string{{"from", "s3://b/p"}, {"already present", "0 files"}},
			"  from             s3://b/p\n  already present  0 files\n"},
		{"last cell unpadded", "", [][]string{{"PVC", "KIND", "RUN"}, {"xroad/data", "ebs-snapshot", "r1"}, {"xroad/gone", "error", ""}},
			"PVC         KIND          RUN\nxroad/data  ebs-snapshot  r1\nxroad/gone  error         \n"},
		{"empty cells keep their column", "  ", [][]string{{"ok", "bucket", "versioned"}, {"WARN", "", "no lock"}},
			"  ok    bucket  versioned\n  WARN          no lock\n"},
		{"no rows", "  ", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			tb := NewTable(&b, tc.indent)
			for _, r := range tc.rows {
				tb.Row(r...)
			}
			if b.Len() != 0 {
				t.Errorf("rows written before Flush: %q", b.String())
			}
			if err := tb.Flush(); err != nil || b.String() != tc.want {
				t.Errorf("got %q (%v), want %q", b.String(), err, tc.want)
			}
		})
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestTableFlushReturnsTheWriteError(t *testing.T) {
	tb := NewTable(failWriter{}, "  ")
	tb.Row("a", "b")
	if err := tb.Flush(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Flush to a failing writer: %v, want disk full", err)
	}
	if err := (Title{Command: "verify", Status: "ok"}).Write(failWriter{}); err == nil {
		t.Error("Title.Write to a failing writer: no error")
	}
}
