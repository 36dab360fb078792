package s3sync

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/store/storetest"
)

func TestKeyPath(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"mlog-1.zip", "mlog-1.zip"},
		{"mlog-1.zip.zst", "mlog-1.zip"},
		{"mlog-1.zip~0123456789abcdef", "mlog-1.zip"},
		{"mlog-1.zip~0123456789abcdef.zst", "mlog-1.zip"},
		{"backup/a.tar~0123456789ABCDEF", "backup/a.tar~0123456789ABCDEF"}, // upper case: not ours
		{"a~0123456789abcde", "a~0123456789abcde"},                         // 15 digits
		{"~0123456789abcdef", "~0123456789abcdef"},                         // nothing before the ~
	} {
		if got := keyPath(tc.key); got != tc.want {
			t.Errorf("keyPath(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

func TestListPrefixes(t *testing.T) {
	files := func(rels ...string) []File {
		var fs []File
		for _, r := range rels {
			fs = append(fs, File{Rel: r})
		}
		return fs
	}
	for _, tc := range []struct {
		name  string
		files []File
		want  []string
	}{
		{"one file", files("mlog-20261101.zip"), []string{"mlog-20261101.zip"}},
		{"a day", files("mlog-20261101-a.zip", "mlog-20261101-b.zip", "mlog-20261101-c.zip.gpg"), []string{"mlog-20261101-"}},
		{"per directory", files("mlog-2026.zip", "backup/conf_1.tar", "backup/conf_2.tar", "mlog-2027.zip"), []string{"backup/conf_", "mlog-202"}},
		{"nothing shared", files("a.zip", "b.zip"), []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := listPrefixes(tc.files); !slices.Equal(got, tc.want) {
				t.Fatalf("listPrefixes = %q, want %q", got, tc.want)
			}
		})
	}
}

// lookCounter counts the looks a run takes at the real destination.
type lookCounter struct {
	store.Store
	heads, lists atomic.Int64
}

func (c *lookCounter) Head(ctx context.Context, key string) (store.Object, error) {
	c.heads.Add(1)
	return c.Store.Head(ctx, key)
}

func (c *lookCounter) List(ctx context.Context, prefix string, fn func(store.Object) error) error {
	c.lists.Add(1)
	return c.Store.List(ctx, prefix, fn)
}

// TestShipsWithoutAHeadPerFile: a run that ships many files lists their
// key ranges once instead of looking at every key, still adopts what an
// interrupted run left, and falls back to one look per key when the
// ranges hold more than the listing may cost.
func TestShipsWithoutAHeadPerFile(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		ctx := context.Background()
		src, files := tree(t)
		s := newStore(t)
		// An interrupted run left the first file's object.
		f := files[0]
		fh, st, err := openSource(filepath.Join(src, f.Rel))
		if err != nil {
			t.Fatal(err)
		}
		d, _ := hashFile(ctx, fh, st.Size())
		if _, err := put(ctx, s, f.Rel, fh, st, d, false, store.Meta{SHA256: d.SHA256, Size: d.Size, MTime: st.ModTime(), Path: f.Rel}); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		c := &lookCounter{Store: s}
		res, err := Run(ctx, opts(src, c))
		if err != nil {
			t.Fatal(err)
		}
		shipped := res.Adopted.Files + res.Uploaded.Files
		if res.Adopted.Files != 1 || shipped < 8 {
			t.Fatalf("adopted %d, uploaded %d", res.Adopted.Files, res.Uploaded.Files)
		}
		if h := c.heads.Load(); h != 1 {
			t.Errorf("%d HEADs for %d files shipped, want 1 (the adopted object)", h, shipped)
		}
		if l := c.lists.Load(); l == 0 || l > int64(shipped/2) {
			t.Errorf("%d LISTs for %d files shipped, want at least one and at most one per two files", l, shipped)
		}

		// New files in ranges that already hold many objects: with a page
		// of one key the listing is over budget, so each key is looked at.
		defer func(p int) { listPage = p }(listPage)
		listPage = 1
		var fresh []string
		for i, name := range []string{"a", "b", "c", "d"} {
			rel := "backup/conf_backup_20261101-00010" + name + ".tar"
			if err := os.WriteFile(filepath.Join(src, rel), []byte("backup "+name), 0o640); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Duration(i+2) * time.Hour)
			os.Chtimes(filepath.Join(src, rel), old, old)
			fresh = append(fresh, rel)
		}
		for _, k := range []string{"1", "2", "3"} { // other objects in their range
			fh, st, _ := openSource(filepath.Join(src, fresh[0]))
			d, _ := hashFile(ctx, fh, st.Size())
			key := "backup/conf_backup_20261101-00010x-" + k
			if _, err := put(ctx, s, key, fh, st, d, false, store.Meta{SHA256: d.SHA256, Size: d.Size, MTime: st.ModTime(), Path: key}); err != nil {
				t.Fatal(err)
			}
			fh.Close()
		}
		c = &lookCounter{Store: s}
		res, err = Run(ctx, opts(src, c))
		if err != nil || res.Uploaded.Files != len(fresh) {
			t.Fatalf("run: %v, uploaded %d, want %d", err, res.Uploaded.Files, len(fresh))
		}
		if h := c.heads.Load(); h != int64(len(fresh)) {
			t.Errorf("%d HEADs for %d new files after an abandoned listing, want one per file", h, len(fresh))
		}
	})
}
