package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/manifest/manifesttest"
	"github.com/xroad-archiver/archiver/internal/store"
)

// generated builds a local destination whose format 2 history holds n
// backup entries committed in runs of perRun (so the state is a
// checkpoint of several leaves plus deltas), with their objects written
// beside. Paths are d/NNNNN.bin; every 7th key is its path plus
// "~<sha16>" (a second version's layout, sorting after later paths), and
// entry 3's key sorts before its path, a layout no sync writes that the
// merge must still handle (by HEAD).
func generated(t *testing.T, n, perRun int) (store.Store, string, []manifest.Entry) {
	t.Helper()
	ctx := context.Background()
	h, err := manifesttest.NewHistory(t.TempDir(), perRun)
	if err != nil {
		t.Fatal(err)
	}
	h.RunID = func(seq int) string { return fmt.Sprintf("g%d", (seq-1)*perRun) }
	var all []manifest.Entry
	for i := 0; i < n; i++ {
		body := []byte(fmt.Sprintf("%08d\n", i))
		e := manifesttest.Entry(fmt.Sprintf("d/%05d.bin", i), "backup", time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC), body)
		e.RunID = "g"
		switch {
		case i == 3:
			e.Key = "a-early/" + e.Path
		case i%7 == 0:
			e.Key = e.Path + "~" + e.SHA256[:16]
		}
		if err := h.Add(ctx, e, body); err != nil {
			t.Fatal(err)
		}
		all = append(all, e)
	}
	if err := h.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return h.Store, h.Dir, all
}

// TestStreamingMergeNamesEveryProblem: the merge of the state with the
// listing finds a missing object (also one whose key sorts before its
// path), an extra one, an altered size, and a damaged checkpoint leaf,
// and calls a genuine destination verified.
func TestStreamingMergeNamesEveryProblem(t *testing.T) {
	const n = 6000
	key := func(es []manifest.Entry, i int) string { return es[i].Key }
	for _, tc := range []struct {
		name   string
		edit   func(t *testing.T, dir string, es []manifest.Entry)
		status string
		want   []string // kind:key of every finding, sorted
	}{
		{"genuine", func(*testing.T, string, []manifest.Entry) {}, "verified", nil},
		{"missing object", func(t *testing.T, dir string, es []manifest.Entry) {
			rm(t, dir, key(es, 100))
			rm(t, dir, key(es, 700)) // a "~" key
		}, "failed", []string{"missing:d/00100.bin", "missing:" + es0(t, 700)}},
		{"missing object whose key sorts before its path", func(t *testing.T, dir string, es []manifest.Entry) {
			rm(t, dir, key(es, 3))
		}, "failed", []string{"missing:a-early/d/00003.bin"}},
		{"extra objects", func(t *testing.T, dir string, es []manifest.Entry) {
			for _, k := range []string{"0-first", "d/00100.bin.stray", "zz/last"} {
				write(t, dir, k, []byte("x"))
			}
		}, "verified", []string{"unrecorded:0-first", "unrecorded:d/00100.bin.stray", "unrecorded:zz/last"}},
		{"altered size", func(t *testing.T, dir string, es []manifest.Entry) {
			write(t, dir, key(es, 200), []byte("000002000\n"))
		}, "failed", []string{"content:d/00200.bin", "size:d/00200.bin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, dir, es := generated(t, n, 2500)
			tc.edit(t, dir, es)
			rep, err := Run(context.Background(), Options{Store: s, TempDir: t.TempDir()})
			if string(rep.Status) != tc.status || (err != nil) != (tc.status != "verified") {
				t.Fatalf("status %s, err %v; want %s (findings %+v)", rep.Status, err, tc.status, rep.Findings)
			}
			var got []string
			for _, f := range rep.Findings {
				got = append(got, f.Kind+":"+f.Key)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("findings %v, want %v", got, tc.want)
			}
			if rep.Entries != n || rep.Present != n-len(findingsOf(rep, KindMissing)) {
				t.Errorf("entries %d, present %d", rep.Entries, rep.Present)
			}
		})
	}
}

func es0(t *testing.T, i int) string {
	body := []byte(fmt.Sprintf("%08d\n", i))
	sum := sha256.Sum256(body)
	return fmt.Sprintf("d/%05d.bin~%s", i, hex.EncodeToString(sum[:])[:16])
}

func findingsOf(rep *Report, kind string) []Finding { return findings(rep, kind) }

func rm(t *testing.T, dir, key string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(key))); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, dir, key string, b []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedLeafFailsVerification: a checkpoint leaf with an entry
// dropped, or two entries swapped, no longer has the SHA-256 its root
// pins: verify fails with a manifest finding, and never calls the rest
// verified.
func TestDamagedLeafFailsVerification(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(lines [][]byte) [][]byte
	}{
		{"dropped entry", func(l [][]byte) [][]byte { return append(l[:5:5], l[6:]...) }},
		{"out of order", func(l [][]byte) [][]byte { l[5], l[6] = l[6], l[5]; return l }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, dir, _ := generated(t, 3000, 3000)
			leaves, err := filepath.Glob(filepath.Join(dir, ".archiver", "index", "*.jsonl"))
			if err != nil || len(leaves) < 2 {
				t.Fatalf("leaves %v, %v", leaves, err)
			}
			b, err := os.ReadFile(leaves[1])
			if err != nil {
				t.Fatal(err)
			}
			lines := bytes.SplitAfter(b, []byte("\n"))
			if err := os.WriteFile(leaves[1], bytes.Join(tc.edit(lines), nil), 0o640); err != nil {
				t.Fatal(err)
			}
			rep, err := Run(context.Background(), Options{Store: s})
			m := findings(rep, KindManifest)
			if !errors.Is(err, ErrFailed) || rep.Status != "failed" || len(m) == 0 || !strings.Contains(m[0].Detail, filepath.Base(leaves[1])) {
				t.Fatalf("err %v, status %s, findings %+v", err, rep.Status, rep.Findings)
			}
		})
	}
}

// TestSampleReadsOnlyWhatItSamples: a 10% sample re-reads about a tenth
// of a large state, and checks every object's presence and size.
func TestSampleReadsOnlyWhatItSamples(t *testing.T) {
	s, _, es := generated(t, 6000, 2500)
	rep, err := Run(context.Background(), Options{Store: s, SamplePercent: 10})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Present != len(es) || rep.Reread.Files+rep.NotReread != len(es) || rep.Reread.Files > len(es)/5 || rep.Reread.Files < len(es)/20 {
		t.Fatalf("present %d, re-read %d, not re-read %d of %d", rep.Present, rep.Reread.Files, rep.NotReread, len(es))
	}
}

// TestContinuitySpillingAtEveryRecord runs the chain tests with every
// sort of continuity spilling after two records: the result may not
// depend on what fits in memory.
func TestContinuitySpillingAtEveryRecord(t *testing.T) {
	old := spillLimit
	spillLimit = 2
	t.Cleanup(func() { spillLimit = old })
	t.Run("deleted archive", TestDeletedArchiveIsAChainBreakBetweenItsNeighbours)
	t.Run("real server histories", TestRealServerHistories)
	t.Run("mid-history", TestMidHistory)
}
