package main

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/units"
	"github.com/xroad-archiver/archiver/internal/xroad"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

// TestVerifyEncryptedArchiveKeys runs the binary on an archive gpg 2.2
// encrypted and signed with X-Road's arguments (internal/gpg/testdata).
func TestVerifyEncryptedArchiveKeys(t *testing.T) {
	const name = "mlog-20261120000000-20261120000009-97090bb5b95b1729.zip.gpg"
	td := filepath.Join("..", "..", "internal", "gpg", "testdata")
	src := filepath.Join(t.TempDir(), "xroad")
	os.MkdirAll(src, 0o755)
	b, err := os.ReadFile(filepath.Join(td, name))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, name), b, 0o640)
	dest := "file://" + t.TempDir()
	if r := cli(t, nil, "sync", "--source", src, "--dest", dest); r.code != 0 {
		t.Fatalf("sync: %d %s", r.code, r.stderr)
	}
	home := filepath.Join(td, "gpghome")
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"no key", nil, nil, 0, "1 encrypted archives checked for integrity only"},
		{"gpg home", nil, []string{"--gpg-home", home}, 0, "1 of 1 encrypted archives decrypted, signature and chain checked"},
		{"gpg home from the environment", []string{"ARCHIVER_GPG_HOME=" + home}, nil, 0, "1 of 1 encrypted archives decrypted"},
		{"exported key", nil, []string{"--gpg-key", filepath.Join(td, "ss1.sec.asc")}, 0, "1 of 1 encrypted archives decrypted"},
		{"wrong signer", nil, []string{"--gpg-home", home, "--gpg-signer", filepath.Join(td, "other.pub.asc")}, 4, name},
		{"signer without a key", nil, []string{"--gpg-signer", filepath.Join(td, "other.pub.asc")}, 2, ""},
		{"no such home", nil, []string{"--gpg-home", filepath.Join(td, "nope")}, 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, tc.env, append([]string{"verify", "--dest", dest}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.want) {
				t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr+r.stdout, "PRIVATE KEY") {
				t.Fatal("key material in the output")
			}
		})
	}
	if r := cli(t, nil, "restore", "--from", dest, "--to", t.TempDir(), "--archive-zone", "Mars/Olympus"); r.code != 2 {
		t.Fatalf("restore --archive-zone Mars/Olympus: exit %d %s", r.code, r.stderr)
	}
}

// TestVerifyLargeEncryptedArchiveMemory verifies a 1 GiB archive,
// encrypted and signed as X-Road does, with the key, and reports the
// verifier's peak RSS. By default (make test) the archive is 8 MiB; the
// 1 GiB measurement writes 3 GiB to $TMPDIR and takes minutes: run it
// with ARCHIVER_MEASURE_GPG=1 (or a size: ARCHIVER_MEASURE_GPG=32MiB).
func TestVerifyLargeEncryptedArchiveMemory(t *testing.T) {
	size := int64(8 << 20)
	switch v := os.Getenv("ARCHIVER_MEASURE_GPG"); v {
	case "":
	case "1":
		size = 1 << 30
	default:
		var err error
		if size, err = units.ParseSize(v); err != nil || size < 1<<20 {
			t.Fatalf("ARCHIVER_MEASURE_GPG=%q: want 1 or a size of at least 1MiB", v)
		}
	}
	pg, err := xroadgen.NewPGP("EE/GOV/70000310/ss1", 2048, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "xroad")
	os.MkdirAll(src, 0o755)
	tmp := filepath.Join(src, "tmp-mlog-1.tmp")
	out, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	// A zip of 1 MiB containers streamed into gpg's framing, the way
	// LogArchiveCache streams into GPGOutputStream.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- pg.Seal(out, pr) }()
	zw := zip.NewWriter(pw)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.NoCompression) })
	chain, _ := xroad.NewChain("SHA-512", "")
	li := xroad.LinkingInfo{Algorithm: "SHA-512"}
	rnd := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, 1<<20)
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for i := int64(0); i < size/int64(len(buf)); i++ {
		rnd.Read(buf)
		n := "q" + strings.Repeat("0", 3) + string(rune('a'+i%26)) + "-request-" + strconv.FormatInt(i, 10) + ".asice"
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate, Modified: t0})
		w.Write(buf)
		d, _ := chain.Add(bytes.NewReader(buf))
		li.Entries = append(li.Entries, xroad.LinkEntry{Digest: d, Name: n})
	}
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: xroad.LinkingInfoEntry, Method: zip.Deflate, Modified: t0})
	w.Write(li.Format())
	zw.Close()
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	out.Close()
	name := xroad.ArchiveName{First: t0, Last: t0.Add(time.Hour), Digest: chain.Last()[:16], Encrypted: true}.String()
	os.Rename(tmp, filepath.Join(src, name))
	home := filepath.Join(t.TempDir(), "gpghome")
	pg.WriteGnuPG1Home(home)
	dest := "file://" + t.TempDir()
	if r := cli(t, nil, "sync", "--source", src, "--dest", dest); r.code != 0 {
		t.Fatalf("sync: %d %s", r.code, r.stderr)
	}
	start := time.Now()
	r := cli(t, nil, "verify", "--dest", dest, "--gpg-home", home, "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"encrypted_decrypted":1`) {
		t.Fatalf("verify: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("verify --gpg-home of a %d MiB .zip.gpg: peak RSS %d MiB, %.1fs", size>>20, r.maxRSSKiB/1024, time.Since(start).Seconds())
	r = cli(t, nil, "verify", "--dest", dest, "-o", "json")
	t.Logf("verify without keys of the same archive: peak RSS %d MiB, exit %d", r.maxRSSKiB/1024, r.code)
}
