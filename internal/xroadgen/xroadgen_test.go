package xroadgen

import (
	"os"
	"path"
	"path/filepath"
	"testing"

	"github.com/xroad-archiver/archiver/internal/xroad"
)

// ChainLinks reads every archive in dir into chain links (test helper shared
// through this function only).
func chainLinks(t *testing.T, dir string, files []File) []xroad.Link {
	t.Helper()
	var links []xroad.Link
	for _, f := range files {
		name := path.Base(f.Rel)
		an, err := xroad.ParseArchiveName(name)
		switch f.Kind {
		case xroad.KindArchive:
			if err != nil {
				t.Fatalf("generated archive name %q: %v", name, err)
			}
			fh, err := os.Open(filepath.Join(dir, f.Rel))
			if err != nil {
				t.Fatal(err)
			}
			ac, err := xroad.CheckArchive(fh, f.Size, name)
			fh.Close()
			if err != nil {
				t.Fatalf("CheckArchive(%s): %v", name, err)
			}
			links = append(links, xroad.Link{Name: name, Group: an.Group, PrevArchive: ac.Link.PrevArchive, PrevDigest: ac.Link.PrevDigest, LastDigest: ac.Link.LastDigest(), Known: true})
		case xroad.KindEncryptedArchive:
			if err != nil {
				t.Fatalf("generated archive name %q: %v", name, err)
			}
			links = append(links, xroad.Link{Name: name, Group: an.Group, LastDigest: an.Digest})
		}
	}
	return links
}

func TestDemoTreeIsValidEvidence(t *testing.T) {
	dir := t.TempDir()
	files, err := Generate(Demo(dir))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[xroad.Kind]int{}
	for _, f := range files {
		counts[f.Kind]++
		st, err := os.Stat(filepath.Join(dir, f.Rel))
		if err != nil || st.Size() != f.Size {
			t.Fatalf("%s: stat %v, size %d want %d", f.Rel, err, st.Size(), f.Size)
		}
		if got := xroad.Classify(f.Rel); got != f.Kind {
			t.Errorf("%s: kind %v, Classify says %v", f.Rel, f.Kind, got)
		}
	}
	o := Demo(dir)
	if counts[xroad.KindArchive] != o.Archives+o.SmallArchives || counts[xroad.KindEncryptedArchive] != o.Encrypted ||
		counts[xroad.KindBackup] != o.Backups+1 || counts[xroad.KindIgnored] != 5 {
		t.Fatalf("kinds = %v", counts)
	}
	links := chainLinks(t, dir, files)
	if b := xroad.CheckContinuity(links); len(b) != 0 {
		t.Fatalf("continuity breaks in generated tree: %v", b)
	}
	// Both groups start exactly one chain.
	starts := map[string]int{}
	for _, l := range links {
		if l.Known && l.PrevArchive == "" {
			starts[l.Group]++
		}
	}
	if len(starts) != 2 {
		t.Errorf("chain starts per group = %v, want 2 groups", starts)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	fa, err := Generate(Demo(a))
	if err != nil {
		t.Fatal(err)
	}
	fb, _ := Generate(Demo(b))
	for i := range fa {
		x, _ := os.ReadFile(filepath.Join(a, fa[i].Rel))
		y, _ := os.ReadFile(filepath.Join(b, fb[i].Rel))
		if fa[i].Rel != fb[i].Rel || string(x) != string(y) {
			t.Fatalf("file %d differs: %s vs %s", i, fa[i].Rel, fb[i].Rel)
		}
	}
}
