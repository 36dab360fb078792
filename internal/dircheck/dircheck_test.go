package dircheck

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/content"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

var (
	demoOnce sync.Once
	demoDir  string
	demoErr  error
)

// demo copies the demo tree (generated once per test binary) and returns
// the copy with its content manifest.
func demo(t *testing.T) (string, []content.File) {
	t.Helper()
	demoOnce.Do(func() {
		demoDir = filepath.Join(os.TempDir(), fmt.Sprintf("dircheck-demo-%d", os.Getpid()))
		_, demoErr = xroadgen.Generate(xroadgen.Demo(demoDir))
	})
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	dir := filepath.Join(t.TempDir(), "xroad")
	if err := os.CopyFS(dir, os.DirFS(demoDir)); err != nil {
		t.Fatal(err)
	}
	// CopyFS does not keep mtimes; the manifest is taken of the copy.
	files, err := snapshot.ScanContent(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, files
}

func find(t *testing.T, files []content.File, kind string) string {
	t.Helper()
	for _, f := range files {
		if f.Kind == kind {
			return f.Path
		}
	}
	t.Fatalf("no %s file in the demo tree", kind)
	return ""
}

func plain(t *testing.T, files []content.File) string {
	t.Helper()
	for _, f := range files {
		if f.Kind == "" && f.Size > 0 {
			return f.Path
		}
	}
	t.Fatal("no plain file in the demo tree")
	return ""
}

func TestMain(m *testing.M) {
	code := m.Run()
	if demoDir != "" {
		os.RemoveAll(demoDir)
	}
	os.Exit(code)
}

func TestCheck(t *testing.T) {
	later := time.Now().Add(time.Hour)
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir string, files []content.File) string // returns the damaged path
		kind    string                                                      // expected problem kind; "" = passes
		changed int
	}{
		{name: "intact", damage: func(*testing.T, string, []content.File) string { return "" }},
		{name: "extra newer file is fine", damage: func(t *testing.T, dir string, _ []content.File) string {
			os.WriteFile(filepath.Join(dir, "mlog-new.zip.tmp"), []byte("x"), 0o600)
			return ""
		}},
		{name: "missing archive", kind: Missing, damage: func(t *testing.T, dir string, files []content.File) string {
			p := find(t, files, "archive")
			os.Remove(filepath.Join(dir, p))
			return p
		}},
		{name: "flipped byte in an archive", kind: Corrupted, damage: func(t *testing.T, dir string, files []content.File) string {
			p := find(t, files, "archive")
			flip(t, filepath.Join(dir, p))
			return p
		}},
		{name: "truncated backup", kind: Corrupted, damage: func(t *testing.T, dir string, files []content.File) string {
			p := find(t, files, "backup")
			os.Truncate(filepath.Join(dir, p), 10)
			return p
		}},
		{name: "archive newer but different is still corrupt", kind: Corrupted, damage: func(t *testing.T, dir string, files []content.File) string {
			p := find(t, files, "encrypted-archive")
			flip(t, filepath.Join(dir, p))
			os.Chtimes(filepath.Join(dir, p), later, later)
			return p
		}},
		{name: "live file changed after the manifest", changed: 1, damage: func(t *testing.T, dir string, files []content.File) string {
			p := plain(t, files)
			os.WriteFile(filepath.Join(dir, p), []byte("rewritten by the running server"), 0o600)
			os.Chtimes(filepath.Join(dir, p), later, later)
			return ""
		}},
		{name: "live file changed with an old mtime", kind: Corrupted, damage: func(t *testing.T, dir string, files []content.File) string {
			p := plain(t, files)
			flip(t, filepath.Join(dir, p))
			return p
		}},
		{name: "directory where a file was", kind: NotAFile, damage: func(t *testing.T, dir string, files []content.File) string {
			p := find(t, files, "backup")
			os.Remove(filepath.Join(dir, p))
			os.Mkdir(filepath.Join(dir, p), 0o700)
			return p
		}},
		{name: "symlink pointing outside", kind: NotAFile, damage: func(t *testing.T, dir string, files []content.File) string {
			p := find(t, files, "archive")
			os.Remove(filepath.Join(dir, p))
			os.Symlink("/etc/passwd", filepath.Join(dir, p))
			return p
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, files := demo(t)
			bad := tc.damage(t, dir, files)
			res, err := Check(context.Background(), dir, files)
			if err != nil {
				t.Fatal(err)
			}
			if res.Expected != len(files) || res.Changed != tc.changed {
				t.Errorf("expected %d changed %d, want %d and %d", res.Expected, res.Changed, len(files), tc.changed)
			}
			if tc.kind == "" {
				if res.Status != "ok" || res.Err() != nil || res.Verified != len(files) || res.Archives == 0 {
					t.Fatalf("want ok, got %+v", res)
				}
				return
			}
			if res.Status != "failed" || len(res.Problems) != 1 || res.Problems[0].Path != bad || res.Problems[0].Kind != tc.kind {
				t.Fatalf("want one %s problem for %s, got %+v", tc.kind, bad, res.Problems)
			}
			if err := res.Err(); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), bad) {
				t.Fatalf("error %v does not name %s", err, bad)
			}
		})
	}
}

func flip(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	st, _ := os.Stat(p)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(p, st.ModTime(), st.ModTime())
}

func TestBrokenChainInsideAValidZipIsABadArchive(t *testing.T) {
	dir, files := demo(t)
	p := find(t, files, "archive")
	// Rewrite the archive as a valid zip whose containers are in another
	// order than its linkinginfo chained them.
	zr, err := zip.OpenReader(filepath.Join(dir, p))
	if err != nil {
		t.Fatal(err)
	}
	entries := append([]*zip.File(nil), zr.File...)
	if len(entries) < 3 {
		t.Fatalf("archive has %d entries", len(entries))
	}
	entries[0], entries[1] = entries[1], entries[0]
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, _ := zw.Create(e.Name)
		rc, _ := e.Open()
		io.Copy(w, rc)
		rc.Close()
	}
	zw.Close()
	zr.Close()
	os.WriteFile(filepath.Join(dir, p), buf.Bytes(), 0o600)
	scanned, err := snapshot.ScanContent(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Check(context.Background(), dir, scanned)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "failed" || len(res.Problems) != 1 || res.Problems[0].Kind != BadArchive || res.Problems[0].Path != p {
		t.Fatalf("got %+v", res)
	}
}

func TestCompactFitsATerminationMessage(t *testing.T) {
	r := &Result{Status: "failed", Expected: 5000}
	for i := range 2000 {
		r.Problems = append(r.Problems, Problem{Path: strings.Repeat("d/", 20) + "mlog-" + string(rune('a'+i%26)) + ".zip", Kind: Missing})
	}
	b, err := r.Compact(MaxMessage)
	if err != nil || len(b) > MaxMessage {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Omitted+len(back.Problems) != 2000 || len(back.Problems) == 0 {
		t.Fatalf("kept %d, omitted %d", len(back.Problems), back.Omitted)
	}
	if !strings.Contains(back.Err().Error(), "2000 of 5000") {
		t.Fatalf("error %v", back.Err())
	}
}

func TestManifestRoundTrip(t *testing.T) {
	_, files := demo(t)
	m := &content.Manifest{Version: 1, RunID: "r1", Files: files}
	b, err := EncodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeManifest(bytes.NewReader(b))
	if err != nil || len(back.Files) != len(files) || back.Files[0] != files[0] {
		t.Fatalf("round trip: %v", err)
	}
	js, _ := json.Marshal(m)
	if _, err := DecodeManifest(bytes.NewReader(js)); err != nil {
		t.Fatalf("plain JSON: %v", err)
	}
	for _, bad := range []string{"", "{", `{"version":2}`, "[1,2]", string(zstdMagic) + "junk"} {
		if _, err := DecodeManifest(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestFindRecoveryDir(t *testing.T) {
	root := t.TempDir()
	old, start := time.Now().Add(-30*24*time.Hour), time.Now().Add(-time.Minute)
	for _, d := range []string{"aws-backup-restore_2026-10-20T10-00-00", "aws-backup-restore_2026-11-22T10-00-00", "xroad"} {
		os.Mkdir(filepath.Join(root, d), 0o700)
	}
	os.Chtimes(filepath.Join(root, "aws-backup-restore_2026-10-20T10-00-00"), old, old)
	os.WriteFile(filepath.Join(root, "aws-backup-restore_2099"), nil, 0o600) // a file, not a directory
	got, err := FindRecoveryDir(root, "aws-backup-restore_*", "/xroad/../xroad", start)
	if err != nil || got != "aws-backup-restore_2026-11-22T10-00-00/xroad" {
		t.Fatalf("%q %v", got, err)
	}
	// Another restore wrote into the file system meanwhile: no guessing.
	os.Mkdir(filepath.Join(root, "aws-backup-restore_2026-11-22T10-00-05"), 0o700)
	if _, err := FindRecoveryDir(root, "aws-backup-restore_*", "/xroad", start); err == nil || !strings.Contains(err.Error(), "refusing to guess") {
		t.Fatalf("two candidates: %v", err)
	}
	// The earlier one is a kept recovery in use (its mtime moves): excluded.
	if got, err := FindRecoveryDir(root, "aws-backup-restore_*", "/xroad", start, "aws-backup-restore_2026-11-22T10-00-00"); err != nil || got != "aws-backup-restore_2026-11-22T10-00-05/xroad" {
		t.Fatalf("with a kept recovery excluded: %q %v", got, err)
	}
	if _, err := FindRecoveryDir(root, "aws-backup-restore_*", "/xroad", time.Now().Add(time.Hour)); err == nil {
		t.Fatal("nothing written since then, yet found")
	}
	if got, _ := FindRecoveryDir(root, "aws-backup-restore_*", "/", time.Time{}); got != "aws-backup-restore_2026-11-22T10-00-05" {
		t.Fatalf("without a start time: %q", got)
	}
}

func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte(`{"version":1,"files":[{"path":"a","size":1}]}`))
	f.Add(append(append([]byte{}, zstdMagic...), 0, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeManifest(bytes.NewReader(b))
		if err == nil && m.Version != 1 {
			t.Fatalf("accepted version %d", m.Version)
		}
	})
}

// TestHostileManifestPathsAreNeverReadOutsideTheDirectory: a manifest is
// data from the store; its paths cannot make the check read elsewhere.
func TestHostileManifestPathsAreNeverReadOutsideTheDirectory(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "restore")
	os.Mkdir(dir, 0o700)
	secret := filepath.Join(parent, "secret")
	os.WriteFile(secret, []byte("outside"), 0o600)
	os.Symlink(parent, filepath.Join(dir, "up"))
	sum := "c8e6b1b2a3f5d1f0f8f0e5c1d0a0b0c0d0e0f0a0b0c0d0e0f0a0b0c0d0e0f0a0"
	files := []content.File{
		{Path: "../secret", Size: 7, SHA256: sum},
		{Path: "/etc/passwd", Size: 1, SHA256: sum},
		{Path: "up/secret", Size: 7, SHA256: sum},
	}
	res, err := Check(context.Background(), dir, files)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "failed" || len(res.Problems) != 3 || res.Bytes != 0 {
		t.Fatalf("%+v", res)
	}
	for _, p := range res.Problems {
		if p.Kind == Corrupted {
			t.Errorf("%s was read: %+v", p.Path, p)
		}
	}
}
