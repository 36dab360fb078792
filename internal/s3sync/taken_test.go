package s3sync

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/store/storetest"
)

func TestMayStore(t *testing.T) {
	wanted := map[string]bool{"mlog-1.zip": true, "x~0123456789abcdef": true}
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"mlog-1.zip", true},
		{"mlog-1.zip.zst", true},
		{"mlog-1.zip~0123456789abcdef", true},
		{"mlog-1.zip~0123456789abcdef.zst", true},
		{"x~0123456789abcdef", true},                  // a path that looks versioned
		{"x~0123456789abcdef.zst", true},              // ... compressed
		{"x~0123456789abcdef~fedcba9876543210", true}, // ... and versioned
		{"mlog-1.zip2", false},
		{"mlog-1.zip~0123456789ABCDEF", false}, // not a version suffix of ours
		{"mlog-1.zip~0123456789abcde", false},  // 15 digits
		{"x", false},
	} {
		if got := mayStore(wanted, tc.key); got != tc.want {
			t.Errorf("mayStore(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

func TestKeyRanges(t *testing.T) {
	for _, tc := range []struct {
		name            string
		names           []string
		prefix          string
		dirs            int
		splitLeft, rest []string
	}{
		{"a day", []string{"mlog-20261101-a.zip", "mlog-20261101-b.zip", "mlog-20261101-c.zip.gpg"}, "mlog-20261101-", 1,
			[]string{"mlog-20261101-a.zip"}, []string{"mlog-20261101-b.zip", "mlog-20261101-c.zip.gpg"}},
		{"two groups", []string{"mlog-EE_COM_1-2026-a.zip", "mlog-EE_COM_1-2026-b.zip", "mlog-EE_GOV_2-2026-a.zip"}, "mlog-EE_", 1,
			[]string{"mlog-EE_COM_1-2026-a.zip", "mlog-EE_COM_1-2026-b.zip"}, []string{"mlog-EE_GOV_2-2026-a.zip"}},
		{"an old file tried again", []string{"mlog-2019-x.zip", "mlog-20261101-a.zip", "mlog-20261101-b.zip"}, "mlog-20", 1,
			[]string{"mlog-2019-x.zip"}, []string{"mlog-20261101-a.zip", "mlog-20261101-b.zip"}},
		{"two directories", []string{"backup/conf_1.tar", "backup/conf_2.tar", "mlog-1.zip"}, "", 2,
			[]string{"backup/conf_1.tar", "backup/conf_2.tar"}, []string{"mlog-1.zip"}},
		{"cut inside a character", []string{"mlog-ä.zip", "mlog-ö.zip"}, "mlog-", 1,
			[]string{"mlog-ä.zip"}, []string{"mlog-ö.zip"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := commonPrefix(tc.names); got != tc.prefix {
				t.Errorf("commonPrefix = %q, want %q", got, tc.prefix)
			}
			if got := byDirectory(tc.names); len(got) != tc.dirs {
				t.Errorf("byDirectory = %q, want %d runs", got, tc.dirs)
			}
			got := split(tc.names)
			if len(got) != 2 || !slices.Equal(got[0], tc.splitLeft) || !slices.Equal(got[1], tc.rest) {
				t.Errorf("split = %q, want %q | %q", got, tc.splitLeft, tc.rest)
			}
		})
	}
}

// lookCounter counts the looks a run takes at the real destination.
type lookCounter struct {
	store.Store
	heads, lists atomic.Int64
	mu           sync.Mutex
	puts         []string
}

func (c *lookCounter) Put(ctx context.Context, key string, p store.Payload, m store.Meta) (store.Object, error) {
	c.mu.Lock()
	c.puts = append(c.puts, key)
	c.mu.Unlock()
	return c.Store.Put(ctx, key, p, m)
}

func (c *lookCounter) Head(ctx context.Context, key string) (store.Object, error) {
	c.heads.Add(1)
	return c.Store.Head(ctx, key)
}

func (c *lookCounter) List(ctx context.Context, prefix string, fn func(store.Object) error) error {
	c.lists.Add(1)
	return c.Store.List(ctx, prefix, fn)
}

func (c *lookCounter) HeadIsCheap() bool {
	h, ok := c.Store.(cheapHeads)
	return ok && h.HeadIsCheap()
}

// backups writes n backups named after day (conf_backup_DAY-0000NN.tar),
// old enough to ship, and returns their paths.
func backups(t *testing.T, src, day string, n int) []string {
	t.Helper()
	var rels []string
	for i := range n {
		rel := fmt.Sprintf("backup/conf_backup_%s-%06d.tar", day, i)
		if err := os.WriteFile(filepath.Join(src, rel), []byte("backup "+rel), 0o640); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Duration(i+2) * time.Hour)
		os.Chtimes(filepath.Join(src, rel), old, old)
		rels = append(rels, rel)
	}
	return rels
}

// storeFile puts the content of src/rel at key, as an interrupted run or
// an older history would have.
func storeFile(t *testing.T, s store.Store, src, rel, key string) {
	t.Helper()
	ctx := context.Background()
	fh, st, err := openSource(filepath.Join(src, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	d, _ := hashFile(ctx, fh, st.Size())
	if _, err := put(ctx, s, key, fh, st, d, false, store.Meta{SHA256: d.SHA256, Size: d.Size, MTime: st.ModTime(), Path: rel}); err != nil {
		t.Fatal(err)
	}
}

// TestShipsWithoutAHeadPerFile: a run that ships many files to S3 lists
// their key ranges instead of looking at every key, still adopts what an
// interrupted run left, narrows a range that holds history, and falls
// back to one look per key when even narrow ranges cost more than the
// looks. A local directory is looked at key by key (an lstat each).
func TestShipsWithoutAHeadPerFile(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		ctx := context.Background()
		src, files := tree(t)
		s := newStore(t)
		_, local := s.(cheapHeads)
		backups(t, src, "20261015", 10)
		storeFile(t, s, src, files[0].Rel, files[0].Rel) // an interrupted run's upload
		c := &lookCounter{Store: s}
		res, err := Run(ctx, opts(src, c))
		if err != nil {
			t.Fatal(err)
		}
		shipped := res.Adopted.Files + res.Uploaded.Files
		if res.Adopted.Files != 1 || shipped < minListed {
			t.Fatalf("adopted %d, uploaded %d", res.Adopted.Files, res.Uploaded.Files)
		}
		wantHeads := int64(1) // the adopted object
		if local {
			wantHeads = int64(shipped)
		}
		if h := c.heads.Load(); h != wantHeads {
			t.Errorf("%d HEADs for %d files shipped, want %d", h, shipped, wantHeads)
		}
		if slices.Contains(c.puts, files[0].Rel) { // the look found it: no write was tried
			t.Errorf("the interrupted run's object %s was written again", files[0].Rel)
		}
		if local {
			return
		}

		// History in the range the new backups share: with a page of one
		// key the range is split into the two months, each listed once.
		defer func(p int) { listPage = p }(listPage)
		listPage = 1
		fresh := append(backups(t, src, "20261101", 10), backups(t, src, "20261201", 10)...)
		c = &lookCounter{Store: s}
		res, err = Run(ctx, opts(src, c))
		if err != nil || res.Uploaded.Files != len(fresh) {
			t.Fatalf("run: %v, uploaded %d, want %d", err, res.Uploaded.Files, len(fresh))
		}
		if h, l := c.heads.Load(), c.lists.Load(); h != 0 || l > 8 {
			t.Errorf("%d HEADs and %d LISTs for %d new files after a split, want no HEAD and a few LISTs", h, l, len(fresh))
		}

		// History inside every file's own range: the listing gives up, and
		// each key is looked at.
		fresh = backups(t, src, "20270101", 16)
		for _, rel := range fresh {
			storeFile(t, s, src, rel, rel+".old")
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
