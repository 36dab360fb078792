package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/xroad-archiver/archiver/internal/s3sync"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/store/storetest"
	"github.com/xroad-archiver/archiver/internal/xroad"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

// manyShipped syncs a tree of n small archives (plus a few larger files
// and backups in a subdirectory) and returns the source and its files.
func manyShipped(t *testing.T, s store.Store, n int) (string, []xroadgen.File) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "xroad")
	o := xroadgen.Demo(dir)
	o.SmallArchives, o.SmallSize = n, 8<<10
	files, err := xroadgen.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3sync.Run(context.Background(), s3sync.Options{Source: dir, Store: s, RunID: "run-1"}); err != nil {
		t.Fatal(err)
	}
	var kept []xroadgen.File
	for _, f := range files {
		if f.Kind != xroad.KindIgnored {
			kept = append(kept, f)
		}
	}
	return dir, kept
}

// slowStore hands out object bodies a few kilobytes at a time with a pause
// before each read, so a restore is caught while many files are in flight.
type slowStore struct {
	store.Reader
	pause time.Duration
}

func (s slowStore) Get(ctx context.Context, key string) (io.ReadCloser, store.Object, error) {
	rc, o, err := s.Reader.Get(ctx, key)
	if err != nil {
		return nil, o, err
	}
	return slowBody{rc, s.pause}, o, nil
}

type slowBody struct {
	io.ReadCloser
	pause time.Duration
}

func (b slowBody) Read(p []byte) (int, error) {
	time.Sleep(b.pause)
	return b.ReadCloser.Read(p[:min(len(p), 4<<10)])
}

// named lists the regular files under dir that carry a real name (not a
// restore's temporary name), and counts the temporary ones.
func named(t *testing.T, dir string) (real []string, temps int) {
	t.Helper()
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		if strings.HasPrefix(info.Name(), tempPrefix) {
			temps++
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		real = append(real, rel)
		return nil
	})
	return real, temps
}

// complete fails unless every named file under to is byte-for-byte its source.
func complete(t *testing.T, src, to string, names []string) {
	t.Helper()
	for _, rel := range names {
		if !bytes.Equal(read(t, filepath.Join(src, rel)), read(t, filepath.Join(to, rel))) {
			t.Errorf("%s is under its real name but is not the complete archived file", rel)
		}
	}
}

// waitNamed returns once some file under dir has its real name.
func waitNamed(t *testing.T, dir string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if real, _ := named(t, dir); len(real) > 0 {
			return
		}
	}
	t.Fatal("no file was restored within a minute")
}

func TestManySmallFilesInFlightRestoreExactly(t *testing.T) {
	storetest.Destinations(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		s := newStore(t)
		src, files := manyShipped(t, s, 120)
		for _, conc := range []int{1, 3, 16} {
			to := filepath.Join(t.TempDir(), "restored")
			res, err := Run(context.Background(), Options{Store: s, To: to, Concurrency: conc})
			if err != nil {
				t.Fatalf("concurrency %d: %v", conc, err)
			}
			if res.Restored.Files != len(files) {
				t.Errorf("concurrency %d: restored %d files, want %d", conc, res.Restored.Files, len(files))
			}
			real, temps := named(t, to)
			if len(real) != len(files) || temps != 0 {
				t.Errorf("concurrency %d: %d named files and %d temporary ones, want %d and 0", conc, len(real), temps, len(files))
			}
			complete(t, src, to, real)
		}
	})
}

func TestCancelledRestoreLeavesOnlyCompleteFiles(t *testing.T) {
	s, _ := store.NewLocal(t.TempDir())
	src, files := manyShipped(t, s, 60)
	to := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { waitNamed(t, to); cancel() }()
	res, err := Run(ctx, Options{Store: slowStore{s, 20 * time.Millisecond}, To: to, Concurrency: 2})
	if !errors.Is(err, context.Canceled) || res.Status != "failed" {
		t.Fatalf("err %v, status %s; want the cancellation reported as a failure", err, res.Status)
	}
	real, temps := named(t, to)
	if temps != 0 {
		t.Errorf("%d temporary files left after a cancelled restore", temps)
	}
	if len(real) == 0 || len(real) >= len(files) {
		t.Fatalf("%d of %d files named: the restore was not caught in the middle", len(real), len(files))
	}
	if res.Restored.Files != len(real) {
		t.Errorf("result says %d restored, the target holds %d", res.Restored.Files, len(real))
	}
	complete(t, src, to, real)
}

// TestKilledRestoreLeavesNoPartialFileUnderARealName kills a restore (a
// child process) with SIGKILL while many files are in flight: every file
// under its real name must be complete, and a second restore finishes the
// job and removes the dead one's temporary files.
func TestKilledRestoreLeavesNoPartialFileUnderARealName(t *testing.T) {
	if dirs := os.Getenv("ARCHIVER_RESTORE_KILL_CHILD"); dirs != "" {
		storeDir, to, _ := strings.Cut(dirs, "|")
		s, _ := store.NewLocal(storeDir)
		Run(context.Background(), Options{Store: slowStore{s, 20 * time.Millisecond}, To: to, Concurrency: 2})
		return
	}
	storeDir, to := t.TempDir(), t.TempDir()
	s, _ := store.NewLocal(storeDir)
	src, files := manyShipped(t, s, 60)
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledRestoreLeavesNoPartialFileUnderARealName$")
	cmd.Env = append(os.Environ(), "ARCHIVER_RESTORE_KILL_CHILD="+storeDir+"|"+to)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitNamed(t, to)
	cmd.Process.Kill()
	cmd.Wait()
	real, temps := named(t, to)
	if len(real) >= len(files) {
		t.Fatalf("all %d files were restored before the kill: the test proves nothing", len(real))
	}
	if temps == 0 {
		t.Errorf("no temporary file at the kill: files were not in flight")
	}
	complete(t, src, to, real)
	res, err := Run(context.Background(), Options{Store: s, To: to})
	if err != nil {
		t.Fatalf("restore after the kill: %v", err)
	}
	if res.Restored.Files+len(res.Present) != len(files) || len(res.Present) != len(real) {
		t.Errorf("second restore: %d restored, %d present; want %d in all, %d present", res.Restored.Files, len(res.Present), len(files), len(real))
	}
	real, temps = named(t, to)
	if len(real) != len(files) || temps != 0 {
		t.Errorf("after the second restore: %d named, %d temporary; want %d and 0", len(real), temps, len(files))
	}
	complete(t, src, to, real)
}

func TestCopyFull(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 10000)
	boom := errors.New("connection reset")
	for _, tc := range []struct {
		name    string
		r       io.Reader
		want    int
		wantErr error
	}{
		{"whole", bytes.NewReader(data), len(data), nil},
		{"one byte a read", iotest.OneByteReader(bytes.NewReader(data)), len(data), nil},
		{"data with EOF", iotest.DataErrReader(bytes.NewReader(data)), len(data), nil},
		{"empty", bytes.NewReader(nil), 0, nil},
		{"cut off", io.MultiReader(bytes.NewReader(data[:1000]), iotest.ErrReader(io.ErrUnexpectedEOF)), 1000, io.ErrUnexpectedEOF},
		{"broken", io.MultiReader(bytes.NewReader(data[:5000]), iotest.ErrReader(boom)), 5000, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			n, err := copyFull(&out, tc.r, make([]byte, 4096))
			if !errors.Is(err, tc.wantErr) || n != int64(tc.want) || out.Len() != tc.want || !bytes.Equal(out.Bytes(), data[:tc.want]) {
				t.Fatalf("n %d err %v, wrote %d bytes; want %d, %v", n, err, out.Len(), tc.want, tc.wantErr)
			}
		})
	}
}

func TestWritebackWritesEveryChunkInPlace(t *testing.T) {
	data := bytes.Repeat([]byte("archived evidence "), 70000) // 1.2 MB
	for _, chunk := range []int{1, 4096, 512 << 10, len(data), 2 * len(data)} {
		t.Run(fmt.Sprint(chunk), func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "f"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			w := &writeback{f: f}
			r := bytes.NewReader(data)
			if chunk == 1 {
				r = bytes.NewReader(data[:5000]) // one-byte writes: keep it short
			}
			n, err := copyFull(w, r, make([]byte, chunk))
			if err != nil || w.off != n || n != r.Size() {
				t.Fatalf("copied %d (offset %d), err %v; want %d", n, w.off, err, r.Size())
			}
			got, err := os.ReadFile(f.Name())
			if err != nil || !bytes.Equal(got, data[:n]) {
				t.Fatalf("file holds %d bytes (err %v), not the %d written", len(got), err, n)
			}
		})
	}
	t.Run("closed file", func(t *testing.T) {
		f, err := os.Create(filepath.Join(t.TempDir(), "f"))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		w := &writeback{f: f}
		if n, err := w.Write(data); err == nil || n != 0 || w.off != 0 {
			t.Fatalf("write to a closed file: %d, %v, offset %d; want an error and nothing counted", n, err, w.off)
		}
	})
}

func TestSyncDirsCoversParentsAndNamesAFailure(t *testing.T) {
	to := t.TempDir()
	os.MkdirAll(filepath.Join(to, "a", "b", "c"), 0o750)
	root, err := os.OpenRoot(to)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := syncDirs(root, map[string]bool{"a/b/c": true, "a": true, ".": true}); err != nil {
		t.Fatal(err)
	}
	err = syncDirs(root, map[string]bool{"a/gone": true})
	if err == nil || !strings.Contains(err.Error(), "a/gone") {
		t.Fatalf("err = %v, want the missing directory named", err)
	}
}
