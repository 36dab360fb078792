package dircheck

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/content"
	"github.com/xroad-archiver/archiver/internal/gpg"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/xroad"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

// volume generates a history as X-Road writes it, lets before alter it
// (before the backup), takes the content manifest, and lets after alter
// it (after the backup).
func volume(t *testing.T, edit func(*xroadgen.Options), before, after func(dir string, files []content.File)) (string, []content.File) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "xroad")
	o := xroadgen.Options{Dir: dir, Start: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), Seed: 3,
		SmallArchives: 10, SmallSize: 6 << 10, Encrypted: 1, Groups: []string{"EE/GOV/70000310", "EE/COM/12345678/portal"}}
	edit(&o)
	if _, err := xroadgen.Generate(o); err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(dir, nil)
	}
	files, err := snapshot.ScanContent(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if after != nil {
		after(dir, files)
	}
	return dir, files
}

func flipContainer(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	off, _ := zr.File[0].DataOffset()
	b[off+int64(zr.File[0].CompressedSize64/2)] ^= 0x01
	os.WriteFile(p, b, 0o640)
}

// chained returns a plain archive in the middle of a chain.
func chained(t *testing.T, dir string, files []content.File) string {
	t.Helper()
	prevs, names := map[string]bool{}, map[string]bool{}
	for _, f := range files {
		names[path.Base(f.Path)] = true
	}
	var cands []string
	for _, f := range files {
		if f.Kind != xroad.KindArchive.String() {
			continue
		}
		fh, _ := os.Open(filepath.Join(dir, f.Path))
		li, err := xroad.ReadLinkingInfo(fh, f.Size)
		fh.Close()
		if err == nil && names[li.PrevArchive] {
			prevs[li.PrevArchive] = true
			cands = append(cands, f.Path)
		}
	}
	for _, c := range cands {
		if prevs[path.Base(c)] {
			return c
		}
	}
	t.Fatal("no archive in the middle of a chain")
	return ""
}

func TestHistories(t *testing.T) {
	ctx := context.Background()
	server, err := xroadgen.NewPGP("EE/GOV/70000310/ss1", 2048, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	other, err := xroadgen.NewPGP("EE/GOV/70000310/ss9", 2048, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	loadKeys := func(t *testing.T, k *xroadgen.PGP) *gpg.Keys {
		h := filepath.Join(t.TempDir(), "gpghome")
		k.WriteGnuPG1Home(h)
		ks, err := gpg.Load([]string{h}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	long := "EE/GOV/" + strings.Repeat("7", 230) + "/sub"
	cases := []struct {
		name string
		edit func(*xroadgen.Options)
	}{
		{"mid-history start", func(o *xroadgen.Options) { o.DropFirst = 3 }},
		{"SHA-224", func(o *xroadgen.Options) { o.Algorithm = "SHA-224" }},
		{"X-Road 6.x names", func(o *xroadgen.Options) { o.Groups = nil; o.Legacy = 3 }},
		{"200-character groups", func(o *xroadgen.Options) { o.Groups = []string{long, "EE/COM/1234 5678/a\u0085b"} }},
		{"restart", func(o *xroadgen.Options) { o.RestartAfter = 6 }},
		{"encrypted and signed", func(o *xroadgen.Options) { o.Encrypted = 3; o.PGP = server }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("genuine", func(t *testing.T) {
				dir, files := volume(t, tc.edit, nil, nil)
				res, err := CheckWith(ctx, dir, files, Options{})
				enc := 0
				for _, f := range files {
					if f.Kind == xroad.KindEncryptedArchive.String() {
						enc++
					}
				}
				if err != nil || res.Status != "ok" || res.IntegrityOnly != enc || len(res.Chains) == 0 {
					t.Fatalf("err %v, result %+v", err, res)
				}
				if tc.name == "encrypted and signed" {
					res, err := CheckWith(ctx, dir, files, Options{Keys: loadKeys(t, server)})
					if err != nil || res.Status != "ok" || res.Decrypted != 3 || res.IntegrityOnly != 0 {
						t.Fatalf("with the key: err %v, result %+v", err, res)
					}
					res, err = CheckWith(ctx, dir, files, Options{Keys: loadKeys(t, other)})
					if err != nil || res.Status != "failed" || len(res.Problems) != 3 || !strings.Contains(res.Problems[0].Detail, "cannot be decrypted") {
						t.Fatalf("wrong key: err %v, result %+v", err, res)
					}
				}
			})
			t.Run("altered before the backup", func(t *testing.T) {
				var victim string
				dir, files := volume(t, tc.edit, func(dir string, _ []content.File) {
					fs, _ := snapshot.ScanContent(ctx, dir)
					victim = chained(t, dir, fs)
					flipContainer(t, filepath.Join(dir, victim))
				}, nil)
				res, err := CheckWith(ctx, dir, files, Options{})
				if err != nil || res.Status != "failed" || len(res.Problems) != 1 || res.Problems[0].Path != victim || res.Problems[0].Kind != BadArchive {
					t.Fatalf("err %v, problems %+v; want %s", err, res.Problems, victim)
				}
			})
			t.Run("altered after the backup", func(t *testing.T) {
				var victim string
				dir, files := volume(t, tc.edit, nil, func(dir string, fs []content.File) {
					victim = chained(t, dir, fs)
					flipContainer(t, filepath.Join(dir, victim))
				})
				res, err := CheckWith(ctx, dir, files, Options{})
				if err != nil || res.Status != "failed" || len(res.Problems) != 1 || res.Problems[0].Path != victim || res.Problems[0].Kind != Corrupted {
					t.Fatalf("err %v, problems %+v; want %s", err, res.Problems, victim)
				}
			})
			t.Run("archive deleted", func(t *testing.T) {
				var victim string
				dir, files := volume(t, tc.edit, nil, func(dir string, fs []content.File) {
					victim = chained(t, dir, fs)
					os.Remove(filepath.Join(dir, victim))
				})
				res, err := CheckWith(ctx, dir, files, Options{})
				if err != nil || res.Status != "failed" || len(res.Problems) != 1 || res.Problems[0].Path != victim || res.Problems[0].Kind != Missing {
					t.Fatalf("err %v, problems %+v; want %s", err, res.Problems, victim)
				}
			})
			t.Run("gap before the backup", func(t *testing.T) {
				var victim string
				dir, files := volume(t, tc.edit, func(dir string, _ []content.File) {
					fs, _ := snapshot.ScanContent(ctx, dir)
					victim = chained(t, dir, fs)
					os.Remove(filepath.Join(dir, victim))
				}, nil)
				res, err := CheckWith(ctx, dir, files, Options{})
				if err != nil || res.Status != "failed" || len(res.Problems) != 1 || res.Problems[0].Kind != ChainBreak || !strings.Contains(res.Problems[0].Detail, path.Base(victim)) {
					t.Fatalf("err %v, problems %+v; want a break naming %s", err, res.Problems, victim)
				}
			})
		})
	}
}
