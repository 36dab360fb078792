package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/store/storetest"
)

// small lowers the checkpoint policy so a few runs exercise it.
func small(t *testing.T, pending, runs, leaf int) {
	t.Helper()
	p, r, l := maxPending, maxPendingRuns, maxLeaf
	maxPending, maxPendingRuns, maxLeaf = pending, runs, leaf
	t.Cleanup(func() { maxPending, maxPendingRuns, maxLeaf = p, r, l })
}

func entry(p, run string, n int) Entry {
	sum := fmt.Sprintf("%064x", n)
	return Entry{Path: p, Key: p, Kind: "archive", Size: int64(n), MTime: time.Unix(int64(n), 0).UTC(), SHA256: sum, StoredSize: int64(n), RunID: run}
}

// commitRuns commits runs of the given sizes on top of s's newest state,
// every fourth entry a new version of an earlier path, and returns every
// entry committed (archiving order).
func commitRuns(t *testing.T, s store.Store, sizes ...int) []Entry {
	t.Helper()
	ctx := context.Background()
	var all []Entry
	if m, _, err := Latest(ctx, s); err != nil {
		t.Fatal(err)
	} else if m != nil {
		all = m.Entries
	}
	for r, n := range sizes {
		st, err := OpenLatest(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		run := fmt.Sprintf("run-%03d-%d", r, len(all))
		m := &Manifest{Seq: 1, RunID: run, Created: time.Now().UTC()}
		if st != nil {
			m.Seq, m.Previous = st.Head.Seq+1, st.Ref
		}
		for i := 0; i < n; i++ {
			k := len(all) + i
			p := fmt.Sprintf("mlog-%06d.zip", k)
			if k%4 == 3 {
				p = fmt.Sprintf("mlog-%06d.zip", k/2) // a rewritten name: a second version
			}
			e := entry(p, run, k+1)
			e.Key = fmt.Sprintf("%s~%d", p, k)
			m.Entries = append(m.Entries, e)
		}
		if _, err := CommitRun(ctx, s, st, m, nil); err != nil {
			t.Fatal(err)
		}
		all = append(all, m.Entries...)
	}
	return all
}

func byPath(es []Entry) []Entry {
	out := append([]Entry(nil), es...)
	// stable by path, archiving order within a path
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j-1].Path > out[j].Path; j-- {
			out[j-1], out[j] = out[j], out[j-1]
		}
	}
	return out
}

func TestStateOverManyRunsIsEveryEntryInOrder(t *testing.T) {
	small(t, 40, 4, 16)
	for _, tc := range []struct {
		name  string
		sizes []int
	}{
		{"one run, no checkpoint", []int{10}},
		{"a first run large enough for a checkpoint", []int{100}},
		{"checkpoint after too many runs", []int{3, 3, 3, 3, 3, 3, 3, 3, 3}},
		{"checkpoint after too many entries", []int{30, 30, 30, 5, 60, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, _ := store.NewLocal(t.TempDir())
			all := commitRuns(t, s, tc.sizes...)
			m, _, err := Latest(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(byPath(all), m.Entries); d != "" {
				t.Fatalf("state (-want +got):\n%s", d)
			}
			if m.Total != int64(len(all)) {
				t.Errorf("total %d, want %d", m.Total, len(all))
			}
			// Every manifest's checkpoint is its state.
			keys, _ := List(ctx, s)
			cps := 0
			for _, k := range keys {
				h, _, err := Load(ctx, s, k)
				if err != nil {
					t.Fatal(err)
				}
				if h.Checkpoint != nil {
					cps++
				}
				if err := CheckCheckpoint(ctx, s, h); err != nil {
					t.Errorf("%s: %v", k, err)
				}
			}
			if tc.name != "one run, no checkpoint" && cps == 0 {
				t.Error("no checkpoint written")
			}
		})
	}
}

// A run whose files are a few recent ones reads the newest manifest, the
// deltas since the checkpoint and the leaves those files fall in: the same
// bytes whatever the history holds.
func TestIndexReadsOnlyTheLeavesOfTheLocalFiles(t *testing.T) {
	small(t, 64, 8, 64)
	read, requests := map[int]int64{}, map[int]int{}
	for _, history := range []int{1000, 10000} {
		s, _ := store.NewLocal(t.TempDir())
		commitRuns(t, s, history)
		ctx := context.Background()
		st, err := OpenLatest(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		local := []string{fmt.Sprintf("mlog-%06d.zip", history-2), fmt.Sprintf("mlog-%06d.zip", history-3)}
		ix, err := st.Index(ctx, local)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ix.Latest(local[1]); !ok {
			t.Fatalf("history %d: %s not indexed", history, local[1])
		}
		root, err := s.Head(ctx, st.Head.Checkpoint.Key)
		if err != nil {
			t.Fatal(err)
		}
		// The root lists the leaves (a few hundred bytes each) and grows
		// with the history; everything else read must not.
		read[history] = st.Stats.BytesRead - root.Size
		requests[history] = st.Stats.Requests
	}
	// (The header decoder reads a few KiB ahead of where it stops.)
	if read[10000] > read[1000]*2 || requests[10000] != requests[1000] {
		t.Fatalf("bytes read besides the root %v, requests %v: they grew with the history", read, requests)
	}
}

// formatOne writes manifests the way the previous release did (every
// manifest lists every entry so far), through Commit, its writer path.
func formatOne(t *testing.T, s store.Store, runs ...[]Entry) []Entry {
	t.Helper()
	var all []Entry
	var prev *Ref
	for i, es := range runs {
		all = append(all, es...)
		m := &Manifest{Version: VersionFull, Seq: int64(i + 1), RunID: fmt.Sprintf("old-%d", i), Created: time.Now().UTC(), Previous: prev,
			Entries: append([]Entry(nil), all...)}
		r, err := Commit(context.Background(), s, m)
		if err != nil {
			t.Fatal(err)
		}
		prev = r
	}
	return all
}

func TestFormatOneDestinationIsReadAndMigrated(t *testing.T) {
	small(t, 40, 4, 16)
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		ctx := context.Background()
		s := newStore(t)
		old := formatOne(t, s, []Entry{entry("mlog-b.zip", "old-0", 1), entry("backup/x.gpg", "old-0", 2)}, []Entry{entry("mlog-a.zip", "old-1", 3)})
		m, _, err := Latest(ctx, s)
		if err != nil || m.Version != VersionFull || len(m.Entries) != 3 {
			t.Fatalf("format 1 latest: %+v, %v", m, err)
		}
		all := append(old, commitRuns(t, s, 5, 5)...)[len(old):]
		m, ref, err := Latest(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(byPath(all), m.Entries); d != "" {
			t.Fatalf("state after migration (-want +got):\n%s", d)
		}
		// The first format 2 manifest carries the migrated checkpoint and
		// pins the last format 1 manifest.
		first, _, err := Load(ctx, s, Key(3, "run-000-3"))
		if err != nil || first.Checkpoint == nil || first.Previous == nil || first.Previous.Key != Key(2, "old-1") {
			t.Fatalf("first format 2 manifest %+v, %v", first, err)
		}
		if err := CheckCheckpoint(ctx, s, first); err != nil {
			t.Fatal(err)
		}
		if ref.Key != Key(4, "run-001-8") {
			t.Fatalf("latest %s", ref.Key)
		}
	})
}

func TestConcurrentCommittersCannotBothCommit(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		ctx := context.Background()
		s := newStore(t)
		commitRuns(t, s, 3)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			st, err := OpenLatest(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			m := &Manifest{Seq: st.Head.Seq + 1, RunID: fmt.Sprintf("rival-%d", i), Created: time.Now().UTC(), Previous: st.Ref,
				Entries: []Entry{entry(fmt.Sprintf("mlog-rival-%d.zip", i), "x", 7)}}
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[i] = CommitRun(ctx, s, st, m, nil) }()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrConcurrent):
				t.Fatalf("loser: %v, want ErrConcurrent", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d runs committed: %v", won, errs)
		}
		m, _, err := Latest(ctx, s)
		if err != nil || len(m.Entries) != 4 {
			t.Fatalf("latest %d entries, %v", len(m.Entries), err)
		}
	})
}

// rewrite replaces an object's bytes (a tamperer with write access).
func rewrite(t *testing.T, s store.Store, key string, f func([]byte) []byte) {
	t.Helper()
	ctx := context.Background()
	rc, obj, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	nb := f(b)
	if _, err := s.Put(ctx, key, store.Payload{Stream: bytes.NewReader(nb), Size: int64(len(nb))}, obj.Meta); err != nil {
		t.Fatal(err)
	}
}

func TestTamperingWithFormatTwoIsCaught(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (store.Store, *Manifest) {
		small(t, 8, 4, 4)
		s, _ := store.NewLocal(t.TempDir())
		commitRuns(t, s, 10, 10)
		st, err := OpenLatest(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := Load(ctx, s, st.Ref.Key)
		if err != nil || m.Checkpoint == nil {
			t.Fatalf("want a checkpointed newest manifest: %+v %v", m, err)
		}
		return s, m
	}
	// forge writes a checkpoint of m's state changed by f, consistent in
	// itself (hashes, counts), and makes m pin it.
	forge := func(t *testing.T, s store.Store, m *Manifest, f func([]Entry) []Entry) *Manifest {
		st, err := Open(ctx, s, m.Previous.Key)
		if err != nil {
			t.Fatal(err)
		}
		var es []Entry
		if err := st.Each(ctx, func(e Entry) error { es = append(es, e); return nil }); err != nil {
			t.Fatal(err)
		}
		es = f(mergeSorted(es, byPath(m.Entries)))
		var stats Stats
		leaves, err := putLeaves(ctx, s, es, m.RunID, &stats)
		if err != nil {
			t.Fatal(err)
		}
		cp := &Checkpoint{Version: Version, RunID: m.RunID, Previous: m.Previous, Entries: int64(len(es)), Leaves: leaves}
		b, _ := json.Marshal(cp)
		ref := &Ref{Key: checkpointPrefix + "forged.json"}
		sum := sha256hex(b)
		ref.SHA256 = sum
		if err := putOnce(ctx, s, ref.Key, b, m.RunID, &stats); err != nil {
			t.Fatal(err)
		}
		forged := *m
		forged.Checkpoint, forged.Total = ref, int64(len(es))
		return &forged
	}
	for _, tc := range []struct {
		name string
		do   func(t *testing.T, s store.Store, m *Manifest) error
		want string
	}{
		{"dropped entry", func(t *testing.T, s store.Store, m *Manifest) error {
			return CheckCheckpoint(ctx, s, forge(t, s, m, func(es []Entry) []Entry { return append(es[:2:2], es[3:]...) }))
		}, "leaves out"},
		{"added entry", func(t *testing.T, s store.Store, m *Manifest) error {
			return CheckCheckpoint(ctx, s, forge(t, s, m, func(es []Entry) []Entry { return mergeSorted(es, []Entry{entry("mlog-zzz.zip", "x", 99)}) }))
		}, "neither the state before it"},
		{"altered entry", func(t *testing.T, s store.Store, m *Manifest) error {
			return CheckCheckpoint(ctx, s, forge(t, s, m, func(es []Entry) []Entry { es[1].Size++; return es }))
		}, "differs from the state before it"},
		{"versions reordered", func(t *testing.T, s store.Store, m *Manifest) error {
			return CheckCheckpoint(ctx, s, forge(t, s, m, func(es []Entry) []Entry {
				for i := 1; i < len(es); i++ {
					if es[i].Path == es[i-1].Path {
						es[i], es[i-1] = es[i-1], es[i]
						return es
					}
				}
				t.Fatal("no path with two versions")
				return nil
			}))
		}, "differs from the state before it"},
		{"altered leaf", func(t *testing.T, s store.Store, m *Manifest) error {
			st := &State{s: s, leaves: map[string][]Entry{}}
			cp, err := st.readCheckpoint(ctx, *m.Checkpoint)
			if err != nil {
				t.Fatal(err)
			}
			rewrite(t, s, cp.Leaves[0].Key, func(b []byte) []byte { return bytes.Replace(b, []byte(`"size":`), []byte(`"size":1`), 1) })
			_, _, err = Latest(ctx, s)
			return err
		}, "its reference pins"},
		{"reordered checkpoint leaves", func(t *testing.T, s store.Store, m *Manifest) error {
			_, err := DecodeCheckpoint(strings.NewReader(func() string {
				st := &State{s: s, leaves: map[string][]Entry{}}
				cp, _ := st.readCheckpoint(ctx, *m.Checkpoint)
				cp.Leaves[0], cp.Leaves[1] = cp.Leaves[1], cp.Leaves[0]
				b, _ := json.Marshal(cp)
				return string(b)
			}()))
			return err
		}, "out of order"},
		{"another run's checkpoint", func(t *testing.T, s store.Store, m *Manifest) error {
			keys, _ := List(ctx, s)
			for _, k := range keys {
				if h, _, _ := Load(ctx, s, k); h != nil && h.Checkpoint != nil && h.RunID != m.RunID {
					forged := *m
					forged.Checkpoint = h.Checkpoint
					return CheckCheckpoint(ctx, s, &forged)
				}
			}
			t.Fatal("no older checkpoint")
			return nil
		}, "not of run"},
		{"truncated delta", func(t *testing.T, s store.Store, m *Manifest) error {
			k := m.Previous.Key
			rewrite(t, s, k, func(b []byte) []byte { return b[:len(b)-40] })
			_, _, err := Load(ctx, s, k)
			return err
		}, "invalid manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, m := setup(t)
			err := tc.do(t, s, m)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalid saying %q", err, tc.want)
			}
		})
	}
}

func TestLatestFollowsTheMarkerAndFallsBackToListing(t *testing.T) {
	ctx := context.Background()
	s, _ := store.NewLocal(t.TempDir())
	commitRuns(t, s, 2, 2, 2)
	var tips []string
	s.List(ctx, tipPrefix, func(o store.Object) error { tips = append(tips, o.Key); return nil })
	if len(tips) != 1 || tips[0] != tipKey(3, "run-002-4") {
		t.Fatalf("markers %v: want only the newest", tips)
	}
	// A run that committed without its marker (killed just after): the
	// claim on the number after the marker's sends the search to the
	// listing.
	st, _ := OpenLatest(ctx, s)
	m := &Manifest{Version: Version, Seq: 4, RunID: "nomarker", Created: time.Now().UTC(), Previous: st.Ref, Total: 7, Entries: []Entry{entry("mlog-x.zip", "nomarker", 1)}}
	if _, err := Commit(ctx, s, m); err != nil {
		t.Fatal(err)
	}
	if st, err := OpenLatest(ctx, s); err != nil || st.Ref.Key != Key(4, "nomarker") {
		t.Fatalf("latest %+v, %v", st, err)
	}
	// A marker whose manifest is gone.
	s.Delete(ctx, Key(4, "nomarker"))
	writeTip(ctx, s, 4, "nomarker", &Stats{})
	if st, err := OpenLatest(ctx, s); err != nil || st.Ref.Key != Key(3, "run-002-4") {
		t.Fatalf("latest after a dangling marker %+v, %v", st, err)
	}
}

func FuzzDecodeCheckpoint(f *testing.F) {
	f.Add([]byte(`{"version":2,"run_id":"r","entries":1,"leaves":[{"first":"a","last":"a","count":1,"key":".archiver/index/x.jsonl","sha256":"` + sha + `"}]}`))
	f.Add([]byte(`{"version":2,"run_id":"r","entries":0,"leaves":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cp, err := DecodeCheckpoint(bytes.NewReader(data))
		if err != nil {
			return
		}
		var n int64
		for i, l := range cp.Leaves {
			if store.CheckKey(l.Key) != nil || !strings.HasPrefix(l.Key, indexPrefix) || l.Count < 1 || (i > 0 && cp.Leaves[i-1].Last >= l.First) {
				t.Fatalf("accepted bad leaf %+v", l)
			}
			n += int64(l.Count)
		}
		if n != cp.Entries {
			t.Fatalf("accepted counts %d != %d", n, cp.Entries)
		}
	})
}

func FuzzDecodeLeaf(f *testing.F) {
	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(entry("a", "r", 1))
	json.NewEncoder(&buf).Encode(entry("b", "r", 2))
	f.Add(buf.Bytes(), "a", "b", 2)
	f.Add([]byte(`{"path":"../x","key":"x","sha256":"`+sha+`"}`+"\n"), "../x", "../x", 1)
	f.Fuzz(func(t *testing.T, data []byte, first, last string, count int) {
		es, err := DecodeLeaf(bytes.NewReader(data), Leaf{First: first, Last: last, Count: count, Key: indexPrefix + "x.jsonl"})
		if err != nil {
			return
		}
		for i, e := range es {
			if store.CheckKey(e.Key) != nil || store.CheckKey(e.Path) != nil || (i > 0 && es[i-1].Path > e.Path) {
				t.Fatalf("accepted bad entry %+v", e)
			}
		}
		if len(es) != count || es[0].Path != first || es[len(es)-1].Path != last {
			t.Fatalf("accepted a leaf unlike its reference")
		}
	})
}

func FuzzDecodeHeader(f *testing.F) {
	m := sample("r1")
	m.Version, m.Checkpoint = Version, &Ref{Key: checkpointPrefix + "x.json", SHA256: sha}
	good, _ := m.Encode()
	f.Add(good, true)
	f.Add(good, false)
	f.Add([]byte(`{"version":2,"checkpoint":{"key":".archiver/checkpoints/x.json","sha256":"`+sha+`"},"entries":[{"key":"../x"}]}`), true)
	f.Fuzz(func(t *testing.T, data []byte, stop bool) {
		m, complete, err := decodeHeader(bytes.NewReader(data), stop)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted an invalid manifest: %v", err)
		}
		if !complete && m.Checkpoint == nil {
			t.Fatal("stopped before the entries of a manifest without a checkpoint")
		}
	})
}

func FuzzParseTip(f *testing.F) {
	f.Add(tipKey(42, "r1"))
	f.Add(tipPrefix + "999999999957-000000000042-../x")
	f.Fuzz(func(t *testing.T, key string) {
		k, seq, ok := parseTip(key)
		if !ok {
			return
		}
		if store.CheckKey(k) != nil || !strings.HasPrefix(k, Prefix) || seq < 1 {
			t.Fatalf("accepted marker %q -> %q %d", key, k, seq)
		}
	})
}

// EachContaining decodes only the leaves that hold a needle, and still
// passes every delta entry and every version of a matching path, in
// path order.
func TestEachContainingSkipsLeavesWithoutTheName(t *testing.T) {
	small(t, 64, 8, 16)
	s, _ := store.NewLocal(t.TempDir())
	all := commitRuns(t, s, 500, 10) // a checkpoint of ~30 leaves, then a delta
	ctx := context.Background()
	st, err := OpenLatest(ctx, s)
	if err != nil || st.Head.Checkpoint != nil || len(st.pending) != 1 {
		t.Fatalf("want a checkpoint plus one delta: %v", err)
	}
	want := "mlog-000101.zip" // rewritten once (entry 203)
	var got []Entry
	err = st.EachContaining(ctx, []string{want}, func(e Entry) error { got = append(got, e); return nil })
	if err != nil {
		t.Fatal(err)
	}
	var versions, deltas int
	for i, e := range got {
		if i > 0 && got[i-1].Path > e.Path {
			t.Fatalf("out of path order at %d: %s after %s", i, e.Path, got[i-1].Path)
		}
		if e.Path == want {
			versions++
		}
	}
	for _, e := range all {
		if e.Path == want {
			deltas-- // count the versions recorded
		}
	}
	if versions != -deltas || versions != 2 {
		t.Errorf("%d versions of %s passed, %d recorded", versions, want, -deltas)
	}
	if len(got) > 16*2+10 || len(got) < 10 {
		t.Errorf("%d entries passed of %d: want the one leaf (or two) holding the name, plus the delta's 10", len(got), len(all))
	}
	if JSONText("a<b\"c") != `a\u003cb\"c` {
		t.Errorf("JSONText = %s", JSONText("a<b\"c"))
	}
}
