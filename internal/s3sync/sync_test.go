package s3sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/codec"
	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/store/storetest"
	"github.com/xroad-archiver/archiver/internal/testenv"
	"github.com/xroad-archiver/archiver/internal/xroad"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

// destinations runs f against a local directory and against MinIO.
var (
	templateOnce  sync.Once
	templateDir   string
	templateFiles []xroadgen.File
	templateErr   error
)

// tree returns a fresh copy of the demo tree (generated once per test
// binary; the generator is slow under -race) and its files.
func tree(t *testing.T) (string, []xroadgen.File) {
	t.Helper()
	templateOnce.Do(func() {
		templateDir, templateErr = os.MkdirTemp("", "archiver-s3sync-tree-")
		if templateErr == nil {
			templateFiles, templateErr = xroadgen.Generate(xroadgen.Demo(templateDir))
		}
	})
	if templateErr != nil {
		t.Fatal(templateErr)
	}
	dir := filepath.Join(t.TempDir(), "xroad")
	if err := os.CopyFS(dir, os.DirFS(templateDir)); err != nil {
		t.Fatal(err)
	}
	for _, f := range templateFiles { // CopyFS does not keep mtimes
		st, err := os.Stat(filepath.Join(templateDir, f.Rel))
		if err != nil {
			t.Fatal(err)
		}
		os.Chtimes(filepath.Join(dir, f.Rel), st.ModTime(), st.ModTime())
	}
	return dir, templateFiles
}

func TestMain(m *testing.M) {
	code := m.Run()
	if templateDir != "" {
		os.RemoveAll(templateDir)
	}
	os.Exit(code)
}

var runN int

func opts(src string, s store.Store) Options {
	runN++
	return Options{Source: src, Store: s, RunID: time.Now().UTC().Format("20060102T150405.000000000Z") + "-" + string(rune('a'+runN%26)), BackupQuiet: time.Minute}
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func keys(t *testing.T, s store.Store) []string {
	t.Helper()
	var ks []string
	if err := s.List(context.Background(), "", func(o store.Object) error { ks = append(ks, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return ks
}

// objectSHA streams an object back, decompressing when needed.
func objectSHA(t *testing.T, s store.Store, key string) string {
	t.Helper()
	rc, obj, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	r, err := codec.Decode(rc, obj.Meta.Encoding)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestSyncShipsArchivesAndBackupsOnly(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		src, files := tree(t)
		s := newStore(t)
		res, err := Run(context.Background(), opts(src, s))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for _, f := range files {
			if f.Kind != xroad.KindIgnored {
				want[f.Rel] = true
			}
		}
		if res.Uploaded.Files != len(want) || res.Ignored != 5 || res.Status != "ok" || res.Manifest == "" {
			t.Fatalf("result: uploaded %d (want %d), ignored %d (want 5), status %s, manifest %q", res.Uploaded.Files, len(want), res.Ignored, res.Status, res.Manifest)
		}
		m, _, err := manifest.Latest(context.Background(), s)
		if err != nil || m == nil || len(m.Entries) != len(want) {
			t.Fatalf("manifest: %v entries, %v", m, err)
		}
		for _, e := range m.Entries {
			if !want[e.Path] || e.Key != e.Path {
				t.Errorf("manifest entry %s -> %s not expected", e.Path, e.Key)
			}
			local := fileSHA(t, filepath.Join(src, e.Path))
			if e.SHA256 != local {
				t.Errorf("%s: manifest SHA-256 %s, file %s", e.Path, e.SHA256, local)
			}
			h, err := s.Head(context.Background(), e.Key)
			if err != nil || h.Meta.SHA256 != local {
				t.Errorf("%s: HEAD meta %+v, %v", e.Key, h.Meta, err)
			}
			if got := objectSHA(t, s, e.Key); got != local {
				t.Errorf("%s: stored bytes hash to %s, file %s", e.Key, got, local)
			}
		}
		for _, k := range keys(t, s) {
			if !strings.HasPrefix(k, ".archiver/") && !want[k] {
				t.Errorf("unexpected object %s (ignored files must stay ignored)", k)
			}
		}
	})
}

func TestSecondRunIsNoOpAndReadsNothing(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		src, files := tree(t)
		s := newStore(t)
		if _, err := Run(context.Background(), opts(src, s)); err != nil {
			t.Fatal(err)
		}
		before := keys(t, s)
		// Scramble the bytes of every shipped file but keep size and mtime: a
		// run that re-read or re-hashed anything would see new content.
		for _, f := range files {
			if f.Kind == xroad.KindIgnored || f.Size == 0 {
				continue
			}
			p := filepath.Join(src, f.Rel)
			st, _ := os.Stat(p)
			b, _ := os.ReadFile(p)
			for i := range b {
				b[i] ^= 0x5a
			}
			os.WriteFile(p, b, 0o640)
			os.Chtimes(p, st.ModTime(), st.ModTime())
		}
		res, err := Run(context.Background(), opts(src, s))
		if err != nil {
			t.Fatal(err)
		}
		if res.Uploaded.Files != 0 || res.Unchanged.Files != 15 || len(res.Conflicts) != 0 || res.Manifest != "" {
			t.Fatalf("second run: uploaded %d, unchanged %d, conflicts %d, manifest %q; want 0, 15, 0, none",
				res.Uploaded.Files, res.Unchanged.Files, len(res.Conflicts), res.Manifest)
		}
		if after := keys(t, s); len(after) != len(before) {
			t.Fatalf("objects %d -> %d on a no-op run", len(before), len(after))
		}
	})
}

func TestRewrittenArchiveKeepsBothVersions(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		src, files := tree(t)
		s := newStore(t)
		if _, err := Run(context.Background(), opts(src, s)); err != nil {
			t.Fatal(err)
		}
		var enc string
		for _, f := range files {
			if f.Kind == xroad.KindEncryptedArchive {
				enc = f.Rel
				break
			}
		}
		p := filepath.Join(src, enc)
		oldSHA := fileSHA(t, p)
		// X-Road re-archives the same records: a .zip.gpg with new bytes.
		b, _ := os.ReadFile(p)
		b[100] ^= 0xff
		os.WriteFile(p+".new", b, 0o640)
		os.Rename(p+".new", p)
		res, err := Run(context.Background(), opts(src, s))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Conflicts) != 1 || res.Uploaded.Files != 1 {
			t.Fatalf("conflicts %+v, uploaded %d; want one conflict and one upload", res.Conflicts, res.Uploaded.Files)
		}
		c := res.Conflicts[0]
		if c.ArchivedKey != enc || c.NewKey != enc+"~"+fileSHA(t, p)[:16] {
			t.Errorf("conflict %+v", c)
		}
		if got := objectSHA(t, s, enc); got != oldSHA {
			t.Error("the archived version was overwritten")
		}
		if got := objectSHA(t, s, c.NewKey); got != fileSHA(t, p) {
			t.Error("the new version was not stored")
		}
		// And a third run is quiet again.
		res, err = Run(context.Background(), opts(src, s))
		if err != nil || res.Uploaded.Files != 0 || len(res.Conflicts) != 0 {
			t.Fatalf("third run: %+v, %v", res, err)
		}
	})
}

func TestDryRunChangesNothing(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		src, _ := tree(t)
		s := newStore(t)
		o := opts(src, s)
		o.DryRun = true
		o.Prune.MinAge = time.Hour
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Planned) != 15 || res.Uploaded.Files != 0 {
			t.Fatalf("dry run planned %d, uploaded %d", len(res.Planned), res.Uploaded.Files)
		}
		if ks := keys(t, s); len(ks) != 0 {
			t.Fatalf("dry run wrote %v", ks)
		}
		// After a real run, a dry run with pruning lists but deletes nothing.
		if _, err := Run(context.Background(), opts(src, s)); err != nil {
			t.Fatal(err)
		}
		o = opts(src, s)
		o.DryRun, o.Prune.MinAge = true, time.Hour
		res, err = Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.PrunePlanned) != 15 || res.Pruned.Files != 0 {
			t.Fatalf("dry-run prune: planned %d, pruned %d", len(res.PrunePlanned), res.Pruned.Files)
		}
		for _, p := range res.PrunePlanned {
			if _, err := os.Stat(filepath.Join(src, p)); err != nil {
				t.Fatalf("dry run removed %s", p)
			}
		}
	})
}

func TestUnstableBackupWaits(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		src, _ := tree(t)
		s := newStore(t)
		fresh := filepath.Join(src, "backup", "ss-automatic-backup-2026_11_22_031500.gpg")
		os.WriteFile(fresh, bytes.Repeat([]byte("half"), 1000), 0o640) // being written right now
		res, err := Run(context.Background(), opts(src, s))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Waiting) != 1 || res.Waiting[0] != "backup/ss-automatic-backup-2026_11_22_031500.gpg" || res.Backlog.Files != 1 {
			t.Fatalf("waiting %v, backlog %+v", res.Waiting, res.Backlog)
		}
		if _, err := s.Head(context.Background(), "backup/ss-automatic-backup-2026_11_22_031500.gpg"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an unstable backup was shipped: %v", err)
		}
		old := time.Now().Add(-5 * time.Minute)
		os.Chtimes(fresh, old, old)
		res, err = Run(context.Background(), opts(src, s))
		if err != nil || res.Uploaded.Files != 1 || len(res.Waiting) != 0 {
			t.Fatalf("after the quiet period: uploaded %d, waiting %v, %v", res.Uploaded.Files, res.Waiting, err)
		}
	})
}

func TestSymlinksAreNotFollowed(t *testing.T) {
	src, _ := tree(t)
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, []byte("not evidence"), 0o600)
	link := "mlog-20261120000000-20261120000001-0123456789abcdef.zip"
	if err := os.Symlink(outside, filepath.Join(src, link)); err != nil {
		t.Fatal(err)
	}
	s, _ := store.NewLocal(t.TempDir())
	res, err := Run(context.Background(), opts(src, s))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].Rel != link {
		t.Fatalf("skipped = %+v, want the symlink", res.Skipped)
	}
	if _, err := s.Head(context.Background(), link); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("a symlink's target was shipped")
	}
}

func TestCompressionAutoRoundTrips(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		src, _ := tree(t)
		s := newStore(t)
		o := opts(src, s)
		o.Compress = CompressAuto
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		m, _, _ := manifest.Latest(context.Background(), s)
		var zipped, plain int
		for _, e := range m.Entries {
			switch {
			case e.Encoding == codec.Zstd:
				zipped++
				if e.Key != e.Path+codec.ZstdSuffix || e.StoredSize >= e.Size {
					t.Errorf("%s: key %s, stored %d of %d", e.Path, e.Key, e.StoredSize, e.Size)
				}
				if filepath.Ext(e.Path) == ".gpg" {
					t.Errorf("%s: OpenPGP data was compressed", e.Path)
				}
			default:
				plain++
			}
			if got := objectSHA(t, s, e.Key); got != e.SHA256 {
				t.Errorf("%s: decompressed SHA-256 %s, want %s", e.Key, got, e.SHA256)
			}
		}
		if zipped < 10 || plain < 4 || res.StoredBytes >= res.Uploaded.Bytes {
			t.Fatalf("compressed %d, plain %d, stored %d of %d", zipped, plain, res.StoredBytes, res.Uploaded.Bytes)
		}
	})
}

func TestAdoptsObjectsOfAnInterruptedRun(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		src, files := tree(t)
		s := newStore(t)
		// An earlier run uploaded one archive and died before its manifest.
		f := files[0]
		o := opts(src, s)
		fh, st, _ := openSource(filepath.Join(src, f.Rel))
		d, _ := hashFile(context.Background(), fh, st.Size())
		if _, err := put(context.Background(), s, f.Rel, fh, st, d, false, store.Meta{SHA256: d.SHA256, Size: d.Size, MTime: st.ModTime(), Path: f.Rel}); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if res.Adopted.Files != 1 || len(res.Conflicts) != 0 || res.Uploaded.Files != 14 {
			t.Fatalf("adopted %d, conflicts %v, uploaded %d", res.Adopted.Files, res.Conflicts, res.Uploaded.Files)
		}
	})
}

// changingStore appends to the source file while its upload is in flight,
// like a writer that did not finish.
type changingStore struct {
	store.Store
	path string
}

func (c changingStore) Put(ctx context.Context, key string, p store.Payload, m store.Meta) (store.Object, error) {
	if m.Path == c.path {
		f, _ := os.OpenFile(filepath.Join(os.Getenv("ARCHIVER_CHANGING_DIR"), c.path), os.O_APPEND|os.O_WRONLY, 0)
		f.Write([]byte("more"))
		f.Close()
	}
	return c.Store.Put(ctx, key, p, m)
}

func TestChangingFileFailsAndIsRetried(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		src, files := tree(t)
		t.Setenv("ARCHIVER_CHANGING_DIR", src)
		target := files[1].Rel
		s := changingStore{Store: newStore(t), path: target}
		res, err := Run(context.Background(), opts(src, s))
		if !errors.Is(err, ErrPartial) || len(res.Failed) != 1 || res.Failed[0].Path != target || res.Status != "partial" {
			t.Fatalf("err %v, failed %+v, status %s; want partial with %s", err, res.Failed, res.Status, target)
		}
		if _, err := s.Head(context.Background(), target); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a file that changed during upload was stored: %v", err)
		}
		res, err = Run(context.Background(), opts(src, s.Store))
		if err != nil || res.Uploaded.Files != 1 {
			t.Fatalf("retry: uploaded %d, %v", res.Uploaded.Files, err)
		}
		if got := objectSHA(t, s.Store, target); got != fileSHA(t, filepath.Join(src, target)) {
			t.Error("retried object differs from the file")
		}
	})
}

func TestFileThatCannotBeOpenedIsPartial(t *testing.T) {
	src, files := tree(t)
	s, _ := store.NewLocal(t.TempDir())
	// A file removed between scan and open fails that file only (tests run
	// as root here, so permissions cannot make a file unreadable).
	gone := files[2].Rel
	o := opts(src, s)
	scanned := 0
	o.Progress = progressFunc(func() {
		scanned++
		if scanned == 1 {
			os.Remove(filepath.Join(src, gone))
		}
	})
	o.Concurrency = 1
	res, err := Run(context.Background(), o)
	if !errors.Is(err, ErrPartial) {
		t.Fatalf("err = %v, want ErrPartial", err)
	}
	if len(res.Failed) != 1 || res.Failed[0].Path != gone {
		t.Fatalf("failed = %+v, want %s", res.Failed, gone)
	}
	if res.Uploaded.Files != 14 || res.Manifest == "" {
		t.Fatalf("uploaded %d, manifest %q: the other files must still be archived", res.Uploaded.Files, res.Manifest)
	}
}

type progressFunc func()

func (f progressFunc) Start(int, int64) { f() }
func (f progressFunc) Done(int64)       {}
func (f progressFunc) Finish()          {}

func TestFatalDestinationErrorsChangeNothing(t *testing.T) {
	env := testenv.S3(t)
	bucket := env.Bucket(t, false)
	for _, tc := range []struct {
		name string
		mod  func(*store.S3Options)
		want error
	}{
		{"unknown KMS key", func(o *store.S3Options) { o.KMSKeyID = "no-such-key" }, store.ErrKMSKey},
		{"missing bucket", func(o *store.S3Options) { o.Bucket = "archiver-missing-bucket" }, store.ErrNoBucket},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := tree(t)
			s := storetest.NewS3(t, env, bucket, tc.mod)
			o := opts(src, s)
			o.Prune.MinAge = time.Nanosecond
			res, err := Run(context.Background(), o)
			if !errors.Is(err, tc.want) || errors.Is(err, ErrPartial) || res.Status != "failed" {
				t.Fatalf("err = %v, status %s; want %v", err, res.Status, tc.want)
			}
			entries, _ := os.ReadDir(src)
			if len(entries) != 17 || res.Pruned.Files != 0 {
				t.Fatalf("local files: %d entries, pruned %d: a failed run deleted something", len(entries), res.Pruned.Files)
			}
			if ks := keys(t, storetest.NewS3(t, env, bucket, nil)); len(ks) != 0 {
				t.Fatalf("objects written: %v", ks)
			}
		})
	}
}

func TestPruneDeletesOnlyProvenFiles(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		src, files := tree(t)
		s := newStore(t)
		if _, err := Run(context.Background(), opts(src, s)); err != nil {
			t.Fatal(err)
		}
		var shipped []string
		for _, f := range files {
			if f.Kind != xroad.KindIgnored {
				shipped = append(shipped, f.Rel)
			}
		}
		sort.Strings(shipped)
		// Break the proof for two files: one object is gone, one object
		// carries other content.
		missing, other := shipped[3], shipped[5]
		if err := s.Delete(context.Background(), missing); err != nil {
			t.Fatal(err)
		}
		s.Delete(context.Background(), other)
		b := []byte("different bytes")
		sum := sha256.Sum256(b)
		if _, err := s.Put(context.Background(), other, store.Payload{Stream: bytes.NewReader(b), Size: int64(len(b))},
			store.Meta{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b)), Path: other}); err != nil {
			t.Fatal(err)
		}
		o := opts(src, s)
		o.Prune.MinAge = time.Hour // every generated file is days old
		res, err := Run(context.Background(), o)
		if !errors.Is(err, ErrPartial) {
			t.Fatalf("err = %v, want ErrPartial (two files could not be proven)", err)
		}
		if res.Pruned.Files != len(shipped)-2 || len(res.Failed) != 2 {
			t.Fatalf("pruned %d, failed %+v; want %d pruned and 2 kept", res.Pruned.Files, res.Failed, len(shipped)-2)
		}
		for _, p := range shipped {
			_, err := os.Stat(filepath.Join(src, p))
			kept := err == nil
			if want := p == missing || p == other; kept != want {
				t.Errorf("%s: kept=%v, want %v", p, kept, want)
			}
		}
		// Working files are never pruned.
		for _, f := range files {
			if f.Kind == xroad.KindIgnored {
				if _, err := os.Stat(filepath.Join(src, f.Rel)); err != nil {
					t.Errorf("working file %s was removed", f.Rel)
				}
			}
		}
	})
}

func TestPruneRespectsAgeAndNewFiles(t *testing.T) {
	src, _ := tree(t)
	s, _ := store.NewLocal(t.TempDir())
	recent := filepath.Join(src, "mlog-20261122000000-20261122000100-0123456789abcdef.zip")
	os.WriteFile(recent, []byte("recent"), 0o640)
	o := opts(src, s)
	o.Prune.MinAge = 24 * time.Hour
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pruned.Files != 15 {
		t.Fatalf("pruned %d, want the 15 old files", res.Pruned.Files)
	}
	if _, err := os.Stat(recent); err != nil {
		t.Fatal("a file younger than --prune-local was deleted")
	}
}

func TestPruneRequiresObjectLockRetention(t *testing.T) {
	env := testenv.S3(t)
	ctx := context.Background()
	t.Run("locked objects are pruned", func(t *testing.T) {
		src, _ := tree(t)
		s := storetest.NewS3(t, env, env.Bucket(t, true), func(o *store.S3Options) { o.LockMode, o.LockRetention = "GOVERNANCE", 24*time.Hour })
		o := opts(src, s)
		o.Prune = PruneOptions{MinAge: time.Hour, LockMode: "GOVERNANCE", Encrypted: true}
		res, err := Run(ctx, o)
		if err != nil || res.Pruned.Files != 15 {
			t.Fatalf("pruned %d, %v; want all 15", res.Pruned.Files, err)
		}
	})
	t.Run("unlocked objects are not", func(t *testing.T) {
		src, _ := tree(t)
		s := storetest.NewS3(t, env, env.Bucket(t, false), nil)
		o := opts(src, s)
		o.Prune = PruneOptions{MinAge: time.Hour, LockMode: "GOVERNANCE", Encrypted: true}
		res, err := Run(ctx, o)
		if !errors.Is(err, ErrPartial) || res.Pruned.Files != 0 || len(res.Failed) != 15 {
			t.Fatalf("pruned %d, failed %d, %v; want nothing pruned", res.Pruned.Files, len(res.Failed), err)
		}
		if !strings.Contains(res.Failed[0].Error, "retention") {
			t.Errorf("reason %q does not name the missing retention", res.Failed[0].Error)
		}
	})
}

// noManifestStore fails every manifest write: a run that dies between
// claiming its sequence number and writing its manifest.
type noManifestStore struct{ store.Store }

func (n noManifestStore) Put(ctx context.Context, key string, p store.Payload, m store.Meta) (store.Object, error) {
	if strings.HasPrefix(key, manifest.Prefix) {
		return store.Object{}, errors.New("killed before the manifest was written")
	}
	return n.Store.Put(ctx, key, p, m)
}

func TestRunThatDiedHoldingASequenceNumberDoesNotBlockLaterRuns(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		ctx := context.Background()
		src, _ := tree(t)
		s := newStore(t)
		first, err := Run(ctx, opts(src, s))
		if err != nil {
			t.Fatal(err)
		}
		newBackup := filepath.Join(src, "backup", "conf_backup_20261122-031500.gpg")
		if err := os.WriteFile(newBackup, bytes.Repeat([]byte("gpg"), 1000), 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Hour)
		os.Chtimes(newBackup, old, old)
		if _, err := Run(ctx, opts(src, noManifestStore{s})); err == nil {
			t.Fatal("a run whose manifest write failed reported success")
		}
		// Straight away the number may belong to a run still committing:
		// refuse, and say so.
		o := opts(src, s)
		o.Prune = PruneOptions{MinAge: time.Nanosecond}
		res, err := Run(ctx, o)
		if !errors.Is(err, manifest.ErrConcurrent) || !strings.Contains(err.Error(), "has not written its manifest") {
			t.Fatalf("run right after = %v", err)
		}
		if res.Pruned.Files != 0 || res.Backlog.Files != 1 {
			t.Fatalf("pruned %+v without a committed manifest; backlog %+v, want the new backup", res.Pruned, res.Backlog)
		}
		if _, err := os.Stat(newBackup); err != nil {
			t.Fatal(err)
		}
		// Once the claim is older than ClaimTimeout, the number is skipped.
		o = opts(src, s)
		o.Now = func() time.Time { return time.Now().Add(manifest.ClaimTimeout + time.Minute) }
		res, err = Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := manifest.Latest(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if m.Seq != 3 || m.Previous == nil || m.Previous.Key != first.Manifest || res.Adopted.Files != 1 {
			t.Fatalf("seq %d, previous %+v (want %s), adopted %d", m.Seq, m.Previous, first.Manifest, res.Adopted.Files)
		}
		if _, ok := manifest.NewIndex(m.Entries).Latest("backup/conf_backup_20261122-031500.gpg"); !ok {
			t.Fatal("the new backup is not in the manifest")
		}
		claims, err := manifest.Claims(ctx, s, 1)
		if err != nil || len(claims) != 3 || claims[1].Manifest != "" || claims[1].RunID == "" || claims[2].Manifest != res.Manifest {
			t.Fatalf("claims %+v, %v", claims, err)
		}
	})
}

// TestPruneToFreeSpace: prune.freeSpacePercent deletes proven files, oldest
// first, only while the source's file system has less free space than
// asked. The two ends are certain on any disk: 100% is never free (every
// proven file goes), a billionth of a percent always is (none goes).
func TestPruneToFreeSpace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		percent float64
		want    int
	}{
		{"never enough free", 100, 15},
		{"always enough free", 1e-9, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := tree(t)
			s, _ := store.NewLocal(t.TempDir())
			o := opts(src, s)
			o.Prune.FreePercent = tc.percent
			count := func() (n int) {
				filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
					if err == nil && d.Type().IsRegular() {
						n++
					}
					return nil
				})
				return n
			}
			before := count()
			res, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if res.Uploaded.Files != 15 || res.Pruned.Files != tc.want {
				t.Fatalf("uploaded %d, pruned %d; want 15 and %d", res.Uploaded.Files, res.Pruned.Files, tc.want)
			}
			if left := count(); left != before-tc.want {
				t.Errorf("%d files left on the volume, want %d of %d", left, before-tc.want, before)
			}
		})
	}
}
