package restore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xroad-archiver/archiver/internal/store"
)

// FuzzKeyToPath: whatever path a manifest carries, restore's gate
// (store.CheckKey) plus os.Root never create anything outside the target.
func FuzzKeyToPath(f *testing.F) {
	for _, s := range []string{"mlog-a.zip", "backup/x.gpg", "../escape", "/etc/passwd", "a/../../b", "link/x", "a\x00b", "..", "./a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rel string) {
		parent := t.TempDir()
		target := filepath.Join(parent, "target")
		os.MkdirAll(target, 0o750)
		os.Symlink(parent, filepath.Join(target, "link")) // a trap pointing out of the target
		if store.CheckKey(rel) != nil {
			return // refused before any file operation
		}
		root, err := os.OpenRoot(target)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		if d := filepath.Dir(rel); d != "." {
			root.MkdirAll(d, 0o750)
		}
		if fh, err := root.OpenFile(rel, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o640); err == nil {
			fh.Close()
		}
		ents, _ := os.ReadDir(parent)
		for _, e := range ents {
			if e.Name() != "target" {
				t.Fatalf("path %q created %s outside the target", rel, e.Name())
			}
		}
		for _, seg := range strings.Split(rel, "/") {
			if seg == ".." || seg == "." || seg == "" {
				t.Fatalf("CheckKey accepted %q", rel)
			}
		}
	})
}
