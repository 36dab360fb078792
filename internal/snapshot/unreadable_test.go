package snapshot

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/xroad-archiver/archiver/internal/codec"
	"github.com/xroad-archiver/archiver/internal/store"
)

// unreadableVolume is a volume as a fresh ext4 EBS volume looks to
// archiver's uid 999: files it owns, and a root-only lost+found (and a
// root-only file) it may not read.
func unreadableVolume(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	os.Chmod(base, 0o755)
	os.Chmod(filepath.Dir(base), 0o755) // the test's temp root: the unprivileged run must reach the volume
	dir := filepath.Join(base, "vol")
	for _, d := range []string{dir, filepath.Join(dir, "backup")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{"mlog-EE_GOV-1-2-3.zip": "archive", "backup/ss-automatic-backup-1.gpg": "backup", "secret": "root only"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "secret"), 0o600)
	lf := filepath.Join(dir, "lost+found")
	os.Mkdir(lf, 0o700)
	os.WriteFile(filepath.Join(lf, "#12"), []byte("x"), 0o600)
	return dir
}

// asUnprivileged runs the named test again as uid 65534 when this one runs
// as root (root reads everything, so permission errors cannot happen),
// with ARCHIVER_TEST_UNREADABLE_DIR naming the prepared directory.
func asUnprivileged(t *testing.T, name string, dir string) bool {
	t.Helper()
	if os.Geteuid() != 0 {
		return false
	}
	own := filepath.Join(filepath.Dir(filepath.Dir(dir)), "bin")
	os.Mkdir(own, 0o755)
	exe := filepath.Join(own, "snapshot.test")
	src, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, src, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^"+name+"$", "-test.v")
	cmd.Env = append(os.Environ(), "ARCHIVER_TEST_UNREADABLE_DIR="+dir, "GOCOVERDIR=")
	cmd.Dir = own
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("as uid 65534: %v\n%s", err, out)
	}
	return true
}

// TestScanSkipsWhatItMayNotRead: a root-only lost+found (and file) is
// left out with a reason instead of failing the scan, so the snapshot
// is still taken; the tar of a hostPath volume leaves it out too.
func TestScanSkipsWhatItMayNotRead(t *testing.T) {
	dir := os.Getenv("ARCHIVER_TEST_UNREADABLE_DIR")
	if dir == "" {
		dir = unreadableVolume(t)
		if asUnprivileged(t, "TestScanSkipsWhatItMayNotRead", dir) {
			return
		}
	}
	files, skipped, err := Scan(context.Background(), dir)
	if err != nil {
		t.Fatalf("scan with a root-only lost+found: %v", err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Path)
	}
	if strings.Join(got, ",") != "backup/ss-automatic-backup-1.gpg,mlog-EE_GOV-1-2-3.zip" {
		t.Errorf("scanned %v", got)
	}
	var sk []string
	for _, s := range skipped {
		sk = append(sk, s.Path)
		if !strings.Contains(s.Reason, "permission denied") {
			t.Errorf("%s skipped for %q", s.Path, s.Reason)
		}
	}
	if strings.Join(sk, ",") != "lost+found,secret" {
		t.Errorf("skipped %v, want lost+found and secret", sk)
	}

	s, err := store.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ti, err := TarVolume(context.Background(), s, "v.tar.zst", dir, files, "r1")
	if err != nil {
		t.Fatalf("tar with a root-only lost+found: %v", err)
	}
	rc, _, err := s.Get(context.Background(), ti.Key)
	if err != nil {
		t.Fatal(err)
	}
	dr, err := codec.Decode(rc, codec.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	if n := strings.Join(names, ","); strings.Contains(n, "secret") || strings.Contains(n, "#12") || !strings.Contains(n, "mlog-EE_GOV-1-2-3.zip") {
		t.Errorf("tar holds %v", names)
	}
}
