package dirtar

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteRoundTrip(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "backup", "empty"), 0o755))
	must(os.WriteFile(filepath.Join(root, "mlog-a.zip"), []byte("archive"), 0o640))
	must(os.WriteFile(filepath.Join(root, "backup", "ss.gpg"), bytes.Repeat([]byte{7}, 70_000), 0o600))
	must(os.Symlink("mlog-a.zip", filepath.Join(root, "latest")))
	var buf bytes.Buffer
	must(Write(context.Background(), &buf, root, Options{}))
	got := map[string]string{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(err)
		b, _ := io.ReadAll(tr)
		switch h.Typeflag {
		case tar.TypeSymlink:
			got[h.Name] = "-> " + h.Linkname
		case tar.TypeDir:
			got[h.Name] = "dir"
		default:
			got[h.Name] = string(b)
		}
	}
	want := map[string]string{"backup/": "dir", "backup/empty/": "dir", "backup/ss.gpg": strings.Repeat("\x07", 70_000),
		"latest": "-> mlog-a.zip", "mlog-a.zip": "archive"}
	if len(got) != len(want) {
		t.Fatalf("entries %d, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %.20q, want %.20q", k, got[k], v)
		}
	}
}

func TestWriteStopsWithItsContext(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Write(ctx, io.Discard, root, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write = %v, want context.Canceled", err)
	}
	if err := Write(context.Background(), io.Discard, filepath.Join(root, "missing"), Options{}); err == nil {
		t.Fatal("a missing root wrote a tar")
	}
}
