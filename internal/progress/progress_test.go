package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestBarDrawsTotals(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "sync")
	b.Start(3, 3<<20)
	b.Done(1 << 20)
	b.Done(2 << 20)
	b.Done(0)
	b.Finish()
	out := buf.String()
	for _, want := range []string{"sync [", "3/3 files", "3.0 MiB/3.0 MiB", "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 5 << 30: "5.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
