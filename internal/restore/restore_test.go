package restore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/s3sync"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/store/storetest"
	"github.com/xroad-archiver/archiver/internal/testenv"
	"github.com/xroad-archiver/archiver/internal/xroad"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

// shipped generates the demo tree and syncs it; it returns the source.
func shipped(t *testing.T, s store.Store, compress string) (string, []xroadgen.File) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "xroad")
	files, err := xroadgen.Generate(xroadgen.Demo(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3sync.Run(context.Background(), s3sync.Options{Source: dir, Store: s, RunID: "run-1", Compress: compress}); err != nil {
		t.Fatal(err)
	}
	return dir, files
}

func read(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// noTemps fails if a temporary restore file was left anywhere below dir.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(info.Name(), ".archiver-restore-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func TestRoundTripIsByteForByte(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		for _, compress := range []string{"none", "zstd"} {
			s := newStore(t)
			src, files := shipped(t, s, compress)
			to := filepath.Join(t.TempDir(), "restored")
			res, err := Run(context.Background(), Options{Store: s, To: to})
			if err != nil {
				t.Fatalf("%s: %v", compress, err)
			}
			n := 0
			for _, f := range files {
				if f.Kind == xroad.KindIgnored {
					if _, err := os.Stat(filepath.Join(to, f.Rel)); err == nil {
						t.Errorf("%s: working file %s restored", compress, f.Rel)
					}
					continue
				}
				n++
				if !bytes.Equal(read(t, filepath.Join(src, f.Rel)), read(t, filepath.Join(to, f.Rel))) {
					t.Errorf("%s: %s differs after the round trip", compress, f.Rel)
				}
				a, _ := os.Stat(filepath.Join(src, f.Rel))
				b, _ := os.Stat(filepath.Join(to, f.Rel))
				if !a.ModTime().Equal(b.ModTime()) {
					t.Errorf("%s: %s mtime %v, want %v", compress, f.Rel, b.ModTime(), a.ModTime())
				}
			}
			if res.Restored.Files != n || res.Status != "ok" {
				t.Fatalf("%s: restored %d of %d, status %s", compress, res.Restored.Files, n, res.Status)
			}
			noTemps(t, to)
			// A second restore finds everything identical and writes nothing.
			res, err = Run(context.Background(), Options{Store: s, To: to})
			if err != nil || len(res.Present) != n || res.Restored.Files != 0 {
				t.Fatalf("%s: second restore: %v, present %d, restored %d", compress, err, len(res.Present), res.Restored.Files)
			}
		}
	})
}

func TestAsOfGivesTheOlderState(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		s := newStore(t)
		src, files := shipped(t, s, "none")
		var enc string
		for _, f := range files {
			if f.Kind == xroad.KindEncryptedArchive {
				enc = f.Rel
				break
			}
		}
		old := read(t, filepath.Join(src, enc))
		changed := append([]byte(nil), old...)
		changed[10] ^= 0xff
		os.WriteFile(filepath.Join(src, enc), changed, 0o640)
		os.WriteFile(filepath.Join(src, "mlog-20261122000000-20261122000001-0123456789abcdef.zip.gpg"), []byte("later"), 0o640)
		if _, err := s3sync.Run(context.Background(), s3sync.Options{Source: src, Store: s, RunID: "run-2"}); err != nil {
			t.Fatal(err)
		}
		before, latest := filepath.Join(t.TempDir(), "before"), filepath.Join(t.TempDir(), "latest")
		if _, err := Run(context.Background(), Options{Store: s, To: before, AsOf: "run-1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := Run(context.Background(), Options{Store: s, To: latest}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(read(t, filepath.Join(before, enc)), old) || !bytes.Equal(read(t, filepath.Join(latest, enc)), changed) {
			t.Error("as-of did not give the older version of the rewritten archive")
		}
		if _, err := os.Stat(filepath.Join(before, "mlog-20261122000000-20261122000001-0123456789abcdef.zip.gpg")); err == nil {
			t.Error("as-of restored a file archived later")
		}
		if _, err := Run(context.Background(), Options{Store: s, To: t.TempDir(), AsOf: "no-such-run"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown run: %v", err)
		}
	})
}

func TestFiltersAndDryRun(t *testing.T) {
	s, _ := store.NewLocal(t.TempDir())
	shipped(t, s, "none")
	to := filepath.Join(t.TempDir(), "t")
	res, err := Run(context.Background(), Options{Store: s, To: to, DryRun: true, Include: []string{"backup/*"}})
	if err != nil || len(res.Planned) != 3 || res.Selected.Files != 3 {
		t.Fatalf("dry run: %v, planned %+v", err, res.Planned)
	}
	if _, err := os.Stat(to); !os.IsNotExist(err) {
		t.Fatal("dry run created the target")
	}
	// Archives whose records overlap 00:05-00:10 on 2026-11-20.
	since := time.Date(2026, 11, 20, 0, 5, 0, 0, time.UTC)
	until := time.Date(2026, 11, 20, 0, 10, 0, 0, time.UTC)
	res, err = Run(context.Background(), Options{Store: s, To: to, Include: []string{"mlog-*"}, Since: since, Until: until})
	if err != nil || res.Restored.Files == 0 {
		t.Fatalf("window: %v, %+v", err, res)
	}
	ents, _ := os.ReadDir(to)
	for _, e := range ents {
		an, err := xroad.ParseArchiveName(e.Name())
		if err != nil || an.Last.Before(since) || an.First.After(until) {
			t.Errorf("%s is outside the window", e.Name())
		}
	}
	if _, err := Run(context.Background(), Options{Store: s, To: to, Include: []string{"["}}); err == nil {
		t.Error("bad glob accepted")
	}
}

func TestEmptySelectionAndInvertedWindowAreErrors(t *testing.T) {
	s, _ := store.NewLocal(t.TempDir())
	shipped(t, s, "none")
	to := filepath.Join(t.TempDir(), "t")
	for name, o := range map[string]Options{
		"no match":        {Include: []string{"mlog-EE_NOSUCH*"}},
		"after the last":  {Since: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		"inverted window": {Since: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
	} {
		o.Store, o.To = s, to
		res, err := Run(context.Background(), o)
		want := ErrNothingSelected
		if name == "inverted window" {
			want = ErrBadWindow
		}
		if !errors.Is(err, want) || res.Status != "failed" {
			t.Errorf("%s: %v (%s), want %v", name, err, res.Status, want)
		}
		if _, err := os.Stat(to); !os.IsNotExist(err) {
			t.Fatalf("%s: the target was created", name)
		}
	}
}

// TestDryRunPredictsTheRealRun: identical files are present, a different
// one is a conflict (partial, like the real run), --force plans to replace
// it; nothing is written.
func TestDryRunPredictsTheRealRun(t *testing.T) {
	s, _ := store.NewLocal(t.TempDir())
	src, files := shipped(t, s, "none")
	to := t.TempDir()
	same, differs := files[0].Rel, files[1].Rel
	os.MkdirAll(filepath.Dir(filepath.Join(to, same)), 0o750)
	os.MkdirAll(filepath.Dir(filepath.Join(to, differs)), 0o750)
	os.WriteFile(filepath.Join(to, same), read(t, filepath.Join(src, same)), 0o640)
	os.WriteFile(filepath.Join(to, differs), []byte("local edits"), 0o640)
	dry, err := Run(context.Background(), Options{Store: s, To: to, DryRun: true})
	if !errors.Is(err, ErrPartial) || len(dry.Present) != 1 || dry.Present[0].Path != same || len(dry.Existing) != 1 || dry.Existing[0].Path != differs ||
		len(dry.Planned) != dry.Selected.Files-2 {
		t.Fatalf("dry run: %v, present %v, existing %v, %d planned", err, dry.Present, dry.Existing, len(dry.Planned))
	}
	forced, err := Run(context.Background(), Options{Store: s, To: to, DryRun: true, Force: true})
	if err != nil || len(forced.Existing) != 0 || len(forced.Planned) != dry.Selected.Files-1 {
		t.Fatalf("dry run --force: %v, %+v", err, forced)
	}
	replaced := 0
	for _, it := range forced.Planned {
		if it.Path == differs && strings.Contains(it.Reason, "replaces") {
			replaced++
		}
	}
	if replaced != 1 || string(read(t, filepath.Join(to, differs))) != "local edits" {
		t.Fatalf("--force dry run: %+v", forced.Planned)
	}
	// The real run does what the dry run said.
	res, err := Run(context.Background(), Options{Store: s, To: to})
	if !errors.Is(err, ErrPartial) || len(res.Existing) != 1 || res.Restored.Files != len(dry.Planned) || len(res.Present) != 1 {
		t.Fatalf("real run: %v, %+v", err, res)
	}
}

func TestInterruptedRestoreTempsAreRemoved(t *testing.T) {
	s, _ := store.NewLocal(t.TempDir())
	shipped(t, s, "none")
	to := t.TempDir()
	os.MkdirAll(filepath.Join(to, "backup"), 0o750)
	os.WriteFile(filepath.Join(to, "backup", ".archiver-restore-0123456789abcdef.tmp"), []byte("half"), 0o640)
	if _, err := Run(context.Background(), Options{Store: s, To: to}); err != nil {
		t.Fatal(err)
	}
	noTemps(t, to)
}

func TestNeverOverwritesWithoutForce(t *testing.T) {
	s, _ := store.NewLocal(t.TempDir())
	src, files := shipped(t, s, "none")
	to := t.TempDir()
	target := files[0].Rel
	os.WriteFile(filepath.Join(to, target), []byte("local edits"), 0o640)
	res, err := Run(context.Background(), Options{Store: s, To: to})
	if !errors.Is(err, ErrPartial) || len(res.Existing) != 1 || res.Existing[0].Path != target {
		t.Fatalf("err %v, existing %+v", err, res.Existing)
	}
	if string(read(t, filepath.Join(to, target))) != "local edits" {
		t.Fatal("an existing file was overwritten without --force")
	}
	if _, err := Run(context.Background(), Options{Store: s, To: to, Force: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read(t, filepath.Join(to, target)), read(t, filepath.Join(src, target))) {
		t.Fatal("--force did not replace the file")
	}
	noTemps(t, to)
}

// hostile writes a manifest whose entries try to leave the target.
func hostile(t *testing.T, s store.Store, path, key string) {
	t.Helper()
	sum := sha256.Sum256([]byte("x"))
	m := &manifest.Manifest{Version: manifest.Version, Seq: 1, RunID: "evil", Entries: []manifest.Entry{
		{Path: path, Key: key, Kind: "backup", Size: 1, SHA256: hex.EncodeToString(sum[:]), StoredSize: 1}}}
	b, _ := m.Encode()
	s.Put(context.Background(), manifest.Key(1, "evil"), store.Payload{Stream: bytes.NewReader(b), Size: int64(len(b))}, store.Meta{})
	s.Put(context.Background(), "x", store.Payload{Stream: strings.NewReader("x"), Size: 1}, store.Meta{})
}

func TestHostileKeysAreRefused(t *testing.T) {
	for _, tc := range []struct{ path, key string }{
		{"../../escaped", "x"}, {"/etc/cron.d/evil", "x"}, {"backup/../../escaped", "x"}, {"ok", "../x"}, {"a\\..\\b", "x"},
	} {
		t.Run(tc.path+" "+tc.key, func(t *testing.T) {
			s, _ := store.NewLocal(t.TempDir())
			hostile(t, s, tc.path, tc.key)
			parent := t.TempDir()
			to := filepath.Join(parent, "a", "b")
			_, err := Run(context.Background(), Options{Store: s, To: to})
			if !errors.Is(err, manifest.ErrInvalid) {
				t.Fatalf("err = %v, want the manifest refused", err)
			}
			if ents, _ := os.ReadDir(parent); len(ents) != 0 {
				t.Fatalf("something was written: %v", ents)
			}
		})
	}
}

func TestSymlinkOutOfTheTargetIsRefused(t *testing.T) {
	s, _ := store.NewLocal(t.TempDir())
	shipped(t, s, "none")
	to, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(to, "backup")); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Options{Store: s, To: to})
	if !errors.Is(err, ErrPartial) || len(res.Failed) != 3 {
		t.Fatalf("err %v, failed %+v; want the 3 backups refused", err, res.Failed)
	}
	for _, f := range res.Failed {
		if !strings.Contains(f.Reason, "unsafe path") {
			t.Errorf("%s: %s", f.Path, f.Reason)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("restore wrote through the symlink: %v", ents)
	}
	if res.Restored.Files != 12 {
		t.Errorf("restored %d, want the 12 archives", res.Restored.Files)
	}
}

func TestCorruptObjectLeavesNoFile(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		s := newStore(t)
		_, files := shipped(t, s, "none")
		victim := files[3].Rel
		ctx := context.Background()
		h, _ := s.Head(ctx, victim)
		s.Delete(ctx, victim)
		s.Put(ctx, victim, store.Payload{Stream: strings.NewReader("garbage"), Size: 7}, h.Meta)
		to := t.TempDir()
		res, err := Run(ctx, Options{Store: s, To: to})
		if !errors.Is(err, ErrPartial) || len(res.Failed) != 1 || res.Failed[0].Path != victim {
			t.Fatalf("err %v, failed %+v", err, res.Failed)
		}
		if _, err := os.Stat(filepath.Join(to, victim)); !os.IsNotExist(err) {
			t.Fatal("a corrupt object was restored")
		}
		noTemps(t, to)
	})
}

func TestDiskFullIsAnErrorAndCleansUp(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Skip(t, "mounting a small tmpfs needs root")
	}
	s, _ := store.NewLocal(t.TempDir())
	shipped(t, s, "none") // 3.2 MiB
	to := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", to).CombinedOutput(); err != nil {
		testenv.Skip(t, "cannot mount tmpfs: "+string(out))
	}
	defer exec.Command("umount", to).Run()
	res, err := Run(context.Background(), Options{Store: s, To: to, Concurrency: 1})
	if err == nil || errors.Is(err, ErrPartial) || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("err = %v, want a disk-full error", err)
	}
	if res.Status != "failed" {
		t.Errorf("status %s", res.Status)
	}
	noTemps(t, to)
}

func TestAccessDeniedIsAnError(t *testing.T) {
	env := testenv.S3(t)
	bucket := env.Bucket(t, false)
	good, _ := store.NewS3(env.Client(t), store.S3Options{Bucket: bucket, KMSKeyID: env.KMSKey})
	shipped(t, good, "none")
	o := env.ClientOptions()
	o.Credentials = testenvBadCreds(env)
	c, _ := store.NewS3Client(context.Background(), o)
	bad, _ := store.NewS3(c, store.S3Options{Bucket: bucket, KMSKeyID: env.KMSKey})
	to := t.TempDir()
	if _, err := Run(context.Background(), Options{Store: bad, To: to}); !errors.Is(err, store.ErrAccessDenied) {
		t.Fatalf("err = %v, want access denied", err)
	}
	if ents, _ := os.ReadDir(to); len(ents) != 0 {
		t.Fatalf("wrote %v", ents)
	}
}
