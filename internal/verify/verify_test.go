package verify

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/s3sync"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/store/storetest"
	"github.com/xroad-archiver/archiver/internal/xroad"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

// synced returns a store holding the shipped demo tree, and its manifest.
func synced(t *testing.T, newStore func(t *testing.T) store.Store, compress string) (store.Store, *manifest.Manifest) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "xroad")
	if _, err := xroadgen.Generate(xroadgen.Demo(dir)); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	if _, err := s3sync.Run(context.Background(), s3sync.Options{Source: dir, Store: s, RunID: "r1", Compress: compress}); err != nil {
		t.Fatal(err)
	}
	m, _, err := manifest.Latest(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

// replace swaps an object's stored bytes behind archiver's back, keeping
// its metadata (what an attacker or a bit rot would do).
func replace(t *testing.T, s store.Store, key string, edit func([]byte) []byte) {
	t.Helper()
	ctx := context.Background()
	rc, obj, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	h, _ := s.Head(ctx, key)
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	nb := edit(b)
	if _, err := s.Put(ctx, key, store.Payload{Stream: bytes.NewReader(nb), Size: int64(len(nb))}, h.Meta); err != nil {
		t.Fatal(err)
	}
	_ = obj
}

func findings(rep *Report, kind string) []Finding {
	var out []Finding
	for _, f := range rep.Findings {
		if f.Kind == kind {
			out = append(out, f)
		}
	}
	return out
}

// archives returns the plain archives of one group in chain order.
func archives(m *manifest.Manifest, group string) []manifest.Entry {
	var out []manifest.Entry
	for _, e := range m.Entries {
		an, err := xroad.ParseArchiveName(path.Base(e.Path))
		if err == nil && an.Group == group && e.Kind == "archive" {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func TestCleanDestinationVerifies(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		for _, compress := range []string{"none", "auto"} {
			s, m := synced(t, newStore, compress)
			rep, err := Run(context.Background(), Options{Store: s, RequireEncryption: strings.HasPrefix(s.URL(), "s3://")})
			if err != nil {
				t.Fatalf("%s: %v; findings %+v", compress, err, rep.Findings)
			}
			if rep.Status != "verified" || rep.Reread.Files != len(m.Entries) || rep.Archives != 10 || rep.Groups != 2 || len(rep.Findings) != 0 {
				t.Fatalf("%s: %+v", compress, rep)
			}
		}
	})
}

func TestFlippedByteIsCaughtAndNamed(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		s, m := synced(t, newStore, "none")
		for _, e := range m.Entries {
			if e.Kind != "backup" { // one of each: an archive and a backup
				continue
			}
			replace(t, s, e.Key, func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
			break
		}
		victim := archives(m, "EE_GOV_70000310")[1]
		replace(t, s, victim.Key, func(b []byte) []byte { b[len(b)/3] ^= 0x80; return b })
		rep, err := Run(context.Background(), Options{Store: s})
		if !errors.Is(err, ErrFailed) {
			t.Fatalf("err = %v, want ErrFailed", err)
		}
		content := findings(rep, KindContent)
		if len(content) != 2 {
			t.Fatalf("content findings %+v, want the backup and %s", content, victim.Key)
		}
		named := false
		for _, f := range content {
			named = named || f.Key == victim.Key
		}
		if !named {
			t.Errorf("the corrupted archive %s is not named: %+v", victim.Key, content)
		}
	})
}

func TestDeletedArchiveIsAChainBreakBetweenItsNeighbours(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		s, m := synced(t, newStore, "none")
		chain := archives(m, "EE_GOV_70000310")
		if len(chain) < 3 {
			t.Fatalf("need 3 archives in a group, have %d", len(chain))
		}
		// Find the real order from the recorded chain: victim's predecessor and successor.
		var victim, before, after manifest.Entry
		for _, e := range chain {
			if e.Chain != nil && e.Chain.PrevArchive != "" {
				for _, p := range chain {
					if path.Base(p.Path) == e.Chain.PrevArchive && p.Chain != nil && p.Chain.PrevArchive != "" {
						victim, after = p, e
						for _, b := range chain {
							if path.Base(b.Path) == p.Chain.PrevArchive {
								before = b
							}
						}
					}
				}
			}
			if victim.Key != "" && before.Key != "" {
				break
			}
		}
		if before.Key == "" {
			t.Fatal("could not find three chained archives")
		}
		if err := s.Delete(context.Background(), victim.Key); err != nil {
			t.Fatal(err)
		}
		rep, err := Run(context.Background(), Options{Store: s})
		if !errors.Is(err, ErrFailed) {
			t.Fatalf("err = %v", err)
		}
		if len(findings(rep, KindMissing)) != 1 {
			t.Errorf("missing findings: %+v", findings(rep, KindMissing))
		}
		breaks := findings(rep, KindChain)
		if len(breaks) != 1 {
			t.Fatalf("chain breaks %+v, want one", breaks)
		}
		d := breaks[0].Detail
		for _, want := range []string{path.Base(before.Path), path.Base(after.Path), path.Base(victim.Path)} {
			if !strings.Contains(d, want) {
				t.Errorf("break %q does not name %s", d, want)
			}
		}
	})
}

// rechain rewrites an archive as a self-consistent one that starts a new
// chain: valid zip, valid linkinginfo for its containers, wrong place.
func rechain(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	chain, _ := xroad.NewChain("SHA-512", "")
	li := xroad.LinkingInfo{Algorithm: "SHA-512"}
	for _, f := range zr.File {
		if f.Name == xroad.LinkingInfoEntry {
			continue
		}
		rc, _ := f.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		w, _ := zw.Create(f.Name)
		w.Write(data)
		d, _ := chain.Add(bytes.NewReader(data))
		li.Entries = append(li.Entries, xroad.LinkEntry{Digest: d, Name: f.Name})
	}
	w, _ := zw.Create(xroad.LinkingInfoEntry)
	w.Write(li.Format())
	zw.Close()
	return out.Bytes()
}

func TestRewrittenArchiveWithWrongChainIsCaught(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		s, m := synced(t, newStore, "none")
		var victim manifest.Entry
		for _, e := range archives(m, "EE_GOV_70000310") {
			if e.Chain != nil && e.Chain.PrevArchive != "" {
				victim = e
				break
			}
		}
		replace(t, s, victim.Key, func(b []byte) []byte { return rechain(t, b) })
		rep, err := Run(context.Background(), Options{Store: s})
		if !errors.Is(err, ErrFailed) {
			t.Fatalf("err = %v", err)
		}
		if len(findings(rep, KindChain)) == 0 || len(findings(rep, KindEvidence)) == 0 {
			t.Fatalf("findings %+v: want a chain break and an evidence failure for %s", rep.Findings, victim.Key)
		}
	})
}

func TestForgedManifestChainIsCaught(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "xroad")
	xroadgen.Generate(xroadgen.Demo(dir))
	s, _ := store.NewLocal(t.TempDir())
	ctx := context.Background()
	s3sync.Run(ctx, s3sync.Options{Source: dir, Store: s, RunID: "r1"})
	os.WriteFile(filepath.Join(dir, "mlog-20261121000000-20261121000001-0123456789abcdef.zip.gpg"), []byte("new"), 0o640)
	s3sync.Run(ctx, s3sync.Options{Source: dir, Store: s, RunID: "r2"})
	// Rewrite the first manifest: the second pins its SHA-256.
	first, _, _ := manifest.LoadRun(ctx, s, "r1")
	named := map[string]bool{} // archives a later one names as its predecessor
	for _, e := range first.Entries {
		if e.Chain != nil && e.Chain.PrevArchive != "" {
			named[e.Chain.PrevArchive] = true
		}
	}
	for i, e := range first.Entries {
		if e.Kind == "archive" && named[e.Path] {
			first.Entries = append(first.Entries[:i:i], first.Entries[i+1:]...)
			break
		}
	}
	k, _ := manifest.Find(ctx, s, "r1")
	s.Delete(ctx, k)
	b, _ := first.Encode()
	sum := sha256.Sum256(b)
	s.Put(ctx, k, store.Payload{Stream: bytes.NewReader(b), Size: int64(len(b))}, store.Meta{SHA256: hex.EncodeToString(sum[:])})
	rep, err := Run(ctx, Options{Store: s})
	if !errors.Is(err, ErrFailed) || len(findings(rep, KindManifest)) != 1 || rep.Manifests != 2 {
		t.Fatalf("err %v, findings %+v", err, rep.Findings)
	}
	// As of the forged first run, the archive it dropped is a hole in the
	// evidence chain.
	rep, err = Run(ctx, Options{Store: s, AsOf: "r1"})
	if !errors.Is(err, ErrFailed) || rep.Entries != 14 || len(findings(rep, KindChain)) != 1 {
		t.Fatalf("as-of r1: %v, %d entries, findings %+v", err, rep.Entries, rep.Findings)
	}
}

func TestUnrecordedObjectIsAWarning(t *testing.T) {
	s, _ := synced(t, func(t *testing.T) store.Store { l, _ := store.NewLocal(t.TempDir()); return l }, "none")
	s.Put(context.Background(), "stray.bin", store.Payload{Stream: strings.NewReader("x"), Size: 1}, store.Meta{})
	rep, err := Run(context.Background(), Options{Store: s})
	if err != nil || rep.Status != "verified" {
		t.Fatalf("%v %s", err, rep.Status)
	}
	if f := findings(rep, KindUnrecorded); len(f) != 1 || f[0].Key != "stray.bin" || f[0].Severity != "warning" {
		t.Fatalf("unrecorded findings %+v", f)
	}
}

func TestSampleRotatesOverEverythingAndBudgetCaps(t *testing.T) {
	s, m := synced(t, func(t *testing.T) store.Store { l, _ := store.NewLocal(t.TempDir()); return l }, "none")
	seen := map[string]bool{}
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for i := 0; i < 4; i++ { // 25%: four days cover everything
		now := day.AddDate(0, 0, i)
		o := Options{SamplePercent: 25, Now: func() time.Time { return now }}
		o.defaults()
		n := 0
		for _, e := range m.Entries {
			if o.selected(e) {
				seen[e.Key] = true
				n++
			}
		}
		if n == len(m.Entries) {
			t.Errorf("day %d: a 25%% sample selected everything", i)
		}
	}
	if len(seen) != len(m.Entries) {
		t.Errorf("four daily 25%% samples covered %d of %d objects", len(seen), len(m.Entries))
	}
	rep, err := Run(context.Background(), Options{Store: s, MaxBytes: 600 << 10})
	if err != nil || rep.NotReread == 0 || rep.Reread.Bytes > 600<<10 || rep.Present != len(m.Entries) {
		t.Fatalf("budget: %v, reread %+v, not reread %d", err, rep.Reread, rep.NotReread)
	}
}

func TestNoManifestIsAnError(t *testing.T) {
	s, _ := store.NewLocal(t.TempDir())
	if _, err := Run(context.Background(), Options{Store: s}); !errors.Is(err, ErrNoManifest) {
		t.Fatalf("err = %v", err)
	}
}

// twoRuns ships the demo tree, then one more archive, as runs r1 and r2.
func twoRuns(t *testing.T) (store.Store, *manifest.Manifest) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "xroad")
	xroadgen.Generate(xroadgen.Demo(dir))
	s, _ := store.NewLocal(t.TempDir())
	ctx := context.Background()
	if _, err := s3sync.Run(ctx, s3sync.Options{Source: dir, Store: s, RunID: "r1"}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "mlog-20261121000000-20261121000001-0123456789abcdef.zip.gpg"), []byte("new"), 0o640)
	if _, err := s3sync.Run(ctx, s3sync.Options{Source: dir, Store: s, RunID: "r2"}); err != nil {
		t.Fatal(err)
	}
	m, _, err := manifest.LoadRun(ctx, s, "r2")
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

// asFormat1 rewrites the destination's manifests the way the previous
// release wrote them (format 1: each lists every entry archived so far,
// chained by SHA-256), through manifest.Commit, that release's writer.
func asFormat1(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	keys, err := manifest.List(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	var states []*manifest.Manifest
	for _, k := range keys {
		st, err := manifest.Open(ctx, s, k)
		if err != nil {
			t.Fatal(err)
		}
		m, err := st.Manifest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, m)
	}
	var bookkeeping []string
	s.List(ctx, ".archiver/", func(o store.Object) error { bookkeeping = append(bookkeeping, o.Key); return nil })
	for _, k := range bookkeeping {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	var prev *manifest.Ref
	for _, m := range states {
		m.Version, m.Total, m.NewestArchive, m.Earliest, m.Checkpoint, m.Previous = manifest.VersionFull, 0, time.Time{}, nil, nil, prev
		if prev, err = manifest.Commit(ctx, s, m); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewestManifestThatDropsAnEntryIsCaught(t *testing.T) {
	s, _ := twoRuns(t)
	ctx := context.Background()
	asFormat1(t, s)
	m, _, err := manifest.LoadRun(ctx, s, "r2")
	if err != nil || m.Version != manifest.VersionFull {
		t.Fatalf("format 1 destination: %v", err)
	}
	// Rewrite the newest manifest (nothing pins it) without a backup, and
	// delete the backup: the manifest alone would call that verified.
	var gone manifest.Entry
	for i, e := range m.Entries {
		if e.Kind == "backup" {
			gone = e
			m.Entries = append(m.Entries[:i:i], m.Entries[i+1:]...)
			break
		}
	}
	k, _ := manifest.Find(ctx, s, "r2")
	s.Delete(ctx, k)
	s.Delete(ctx, gone.Key)
	b, _ := m.Encode()
	s.Put(ctx, k, store.Payload{Stream: bytes.NewReader(b), Size: int64(len(b))}, store.Meta{})
	rep, err := Run(ctx, Options{Store: s})
	f := findings(rep, KindManifest)
	if !errors.Is(err, ErrFailed) || len(f) != 1 || f[0].Path != gone.Path || !strings.Contains(f[0].Detail, "leaves out 1 entries") {
		t.Fatalf("err %v, findings %+v", err, rep.Findings)
	}
}

func TestClaimWithoutManifestIsAWarning(t *testing.T) {
	s, _ := twoRuns(t)
	ctx := context.Background()
	// The newest manifest disappears (deleted, or its run died after
	// claiming the number): say so, naming the run.
	k, _ := manifest.Find(ctx, s, "r2")
	s.Delete(ctx, k)
	// Moments after the claim it may be a sync committing while verify
	// runs: not a finding.
	rep, err := Run(ctx, Options{Store: s})
	if err != nil || rep.Status != "verified" || len(findings(rep, KindManifest)) != 0 {
		t.Fatalf("fresh claim: %v %+v", err, rep.Findings)
	}
	rep, err = Run(ctx, Options{Store: s, Now: func() time.Time { return time.Now().Add(time.Hour) }})
	if err != nil || rep.Status != "verified" || rep.Manifests != 1 {
		t.Fatalf("%v %+v", err, rep)
	}
	f := findings(rep, KindManifest)
	if len(f) != 1 || f[0].Severity != "warning" || f[0].Key != ".archiver/seq/000000000002" ||
		!strings.Contains(f[0].Detail, "run r2") || !strings.Contains(f[0].Detail, "newest manifest was deleted") {
		t.Fatalf("findings %+v", rep.Findings)
	}
}

func TestTamperedLatestManifestIsAFinding(t *testing.T) {
	s, _ := twoRuns(t)
	ctx := context.Background()
	k, _ := manifest.Find(ctx, s, "r2")
	replace(t, s, k, func(b []byte) []byte { return bytes.Replace(b, []byte(`"sha256":"`), []byte(`"sha256":"zz`), 1) })
	rep, err := Run(ctx, Options{Store: s})
	if !errors.Is(err, ErrFailed) || rep.Status != "failed" || len(findings(rep, KindManifest)) != 1 {
		t.Fatalf("err %v, report %+v", err, rep)
	}
}

// A destination written by the previous release (format 1 manifests) is
// read as is, continued by the next sync, which migrates its state into a
// checkpoint, and verifies, on a local directory and on MinIO.
func TestFormatOneDestinationIsContinuedAndVerifies(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		ctx := context.Background()
		dir := filepath.Join(t.TempDir(), "xroad")
		xroadgen.Generate(xroadgen.Demo(dir))
		s := newStore(t)
		if _, err := s3sync.Run(ctx, s3sync.Options{Source: dir, Store: s, RunID: "r1"}); err != nil {
			t.Fatal(err)
		}
		asFormat1(t, s)
		// Nothing new: the format 1 state is read and nothing is written.
		res, err := s3sync.Run(ctx, s3sync.Options{Source: dir, Store: s, RunID: "r2"})
		if err != nil || res.Uploaded.Files != 0 || res.Manifest != "" || res.Unchanged.Files == 0 {
			t.Fatalf("no-op on format 1: %v %+v", err, res)
		}
		os.WriteFile(filepath.Join(dir, "mlog-20261121000000-20261121000001-0123456789abcdef.zip.gpg"), []byte("new"), 0o640)
		res, err = s3sync.Run(ctx, s3sync.Options{Source: dir, Store: s, RunID: "r3"})
		if err != nil || res.Uploaded.Files != 1 {
			t.Fatalf("sync after format 1: %v %+v", err, res)
		}
		head, _, err := manifest.Load(ctx, s, res.Manifest)
		if err != nil || head.Version != manifest.Version || head.Checkpoint == nil || len(head.Entries) != 1 {
			t.Fatalf("the first format 2 manifest: %+v %v; want a checkpoint and one new entry", head, err)
		}
		// (The new "archive" is three bytes, not OpenPGP: the one finding.)
		rep, err := Run(ctx, Options{Store: s})
		if rep.Manifests != 2 || rep.Entries != res.Unchanged.Files+1 || len(rep.Findings) != 1 || rep.Findings[0].Kind != KindEvidence {
			t.Fatalf("verify: %v, %+v", err, rep)
		}
		if old, _, _ := manifest.LoadRun(ctx, s, "r1"); old == nil || old.Version != manifest.VersionFull {
			t.Fatalf("r1 is not the format 1 manifest: %+v", old)
		}
	})
}
