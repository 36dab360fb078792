package manifesttest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/manifest"
)

// TestHistoryCommitsRunsOfPerRun: entries land in runs of PerRun, named
// by RunID and chained, the last run holds the rest, every object is
// beside at its key, and the state holds every entry as it was given.
func TestHistoryCommitsRunsOfPerRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		n, perRun  int
		wantRuns   int64
		wantLastID string
	}{
		{"full runs", 6, 3, 2, "r2"},
		{"a partial last run", 7, 3, 3, "r3"},
		{"one run", 2, 5, 1, "r1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h, err := NewHistory(t.TempDir(), tc.perRun)
			if err != nil {
				t.Fatal(err)
			}
			h.RunID = func(seq int) string { return fmt.Sprintf("r%d", seq) }
			want := map[string]manifest.Entry{}
			for i := 0; i < tc.n; i++ {
				body := []byte(fmt.Sprintf("body %d\n", i))
				e := Entry(fmt.Sprintf("d/%02d.bin", i), "backup", time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC), body)
				e.RunID = h.NextRunID()
				if i == 1 {
					e.Key = "other/" + e.Path
				}
				if err := h.Add(ctx, e, body); err != nil {
					t.Fatal(err)
				}
				want[e.Path] = e
				if b, err := os.ReadFile(filepath.Join(h.Dir, filepath.FromSlash(e.Key))); err != nil || string(b) != string(body) {
					t.Fatalf("object %s: %q (%v), want %q", e.Key, b, err, body)
				}
			}
			if err := h.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if err := h.Commit(ctx); err != nil { // nothing added: nothing committed
				t.Fatal(err)
			}
			st, err := manifest.OpenLatest(ctx, h.Store)
			if err != nil {
				t.Fatal(err)
			}
			if st.Head.Seq != tc.wantRuns || st.Head.RunID != tc.wantLastID || st.Total() != int64(tc.n) {
				t.Fatalf("head seq %d, run %s, total %d; want %d, %s, %d", st.Head.Seq, st.Head.RunID, st.Total(), tc.wantRuns, tc.wantLastID, tc.n)
			}
			err = st.Each(ctx, func(e manifest.Entry) error {
				w := want[e.Path]
				if e.Key != w.Key || e.SHA256 != w.SHA256 || e.Size != w.Size || e.StoredSize != w.StoredSize || e.RunID != w.RunID || !e.MTime.Equal(w.MTime) {
					return fmt.Errorf("entry %+v, want %+v", e, w)
				}
				delete(want, e.Path)
				return nil
			})
			if err != nil || len(want) != 0 {
				t.Fatalf("state: %v; not in it: %v", err, want)
			}
		})
	}
}
