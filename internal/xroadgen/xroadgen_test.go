package xroadgen

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
			links = append(links, xroad.LinkOf(name, ac.Link))
		case xroad.KindEncryptedArchive:
			if err != nil {
				t.Fatalf("generated archive name %q: %v", name, err)
			}
			links = append(links, xroad.Link{Name: name, Group: an.Group, First: an.First, LastDigest: an.Digest})
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
	if c := xroad.CheckContinuity(links, nil); len(c.Breaks) != 0 {
		t.Fatalf("continuity breaks in generated tree: %v", c.Breaks)
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

// TestModes generates each case a real server's history can hold and
// checks it is what X-Road would have written.
func TestModes(t *testing.T) {
	base := func(dir string) Options {
		return Options{Dir: dir, Start: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), Seed: 7, SmallArchives: 6, SmallSize: 8 << 10}
	}
	long := "EE/GOV/" + strings.Repeat("7", 230) + "/sub"
	tallinn, err := time.LoadLocation("Europe/Tallinn")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		edit   func(*Options)
		starts []string // kinds, in X order
		check  func(t *testing.T, names []string)
	}{
		{"mid-history", func(o *Options) { o.DropFirst = 2 }, nil, nil},
		{"SHA-224", func(o *Options) { o.Algorithm = "SHA-224" }, []string{"first"}, nil},
		{"6.x names then 7", func(o *Options) { o.Legacy = 3 }, []string{"first"}, func(t *testing.T, names []string) {
			for i, n := range names {
				an, err := xroad.ParseArchiveName(n)
				if err != nil || an.Legacy != (i < 3) {
					t.Errorf("%s: legacy %v, %v", n, an.Legacy, err)
				}
			}
		}},
		{"200-character groups", func(o *Options) { o.Groups = []string{long, "EE/COM/1234 5678/\u0085x"} }, []string{"first", "first"}, func(t *testing.T, names []string) {
			if !strings.HasPrefix(names[0], "mlog-EE_GOV_"+strings.Repeat("7", 230)[:200-7]+"2026") {
				t.Errorf("long group name = %q", names[0])
			}
			if !strings.HasPrefix(names[1], "mlog-EE_COM_1234 5678__x-2026") {
				t.Errorf("spaced group name = %q", names[1])
			}
		}},
		{"restart", func(o *Options) { o.RestartAfter = 4 }, []string{"first", "restart"}, nil},
		{"local zone", func(o *Options) { o.Zone = tallinn }, []string{"first"}, func(t *testing.T, names []string) {
			if !strings.HasPrefix(names[0], "mlog-20261120020") {
				t.Errorf("X in Europe/Tallinn: %q", names[0])
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := base(dir)
			tc.edit(&o)
			files, err := Generate(o)
			if err != nil {
				t.Fatal(err)
			}
			links := chainLinks(t, dir, files)
			var names []string
			for _, f := range files {
				names = append(names, f.Rel)
			}
			earliest := xroad.Earliest(links)
			c := xroad.CheckContinuity(links, func(l xroad.Link) bool { return earliest[l.Group] == l.Name })
			var kinds []string
			for _, s := range c.Starts {
				kinds = append(kinds, s.Kind)
			}
			want := tc.starts
			if o.DropFirst > 0 {
				want = []string{"mid-history"}
			}
			if len(c.Breaks) != 0 || strings.Join(kinds, ",") != strings.Join(want, ",") {
				t.Fatalf("breaks %v, starts %v; want starts %v", c.Breaks, kinds, want)
			}
			if tc.check != nil {
				tc.check(t, names)
			}
		})
	}
}
