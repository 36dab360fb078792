package verify

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/s3sync"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/xroad"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

// histories are the archive sets a real server's history can hold, each
// generated the way X-Road writes it.
func histories(t *testing.T) []struct {
	name   string
	edit   func(*xroadgen.Options)
	starts string // chain start kinds, sorted by group then archive
} {
	tallinn, err := time.LoadLocation("Europe/Tallinn")
	if err != nil {
		t.Fatal(err)
	}
	return []struct {
		name   string
		edit   func(*xroadgen.Options)
		starts string
	}{
		{"mid-history start", func(o *xroadgen.Options) { o.DropFirst = 3 }, "mid-history,mid-history"},
		{"SHA-224", func(o *xroadgen.Options) { o.Algorithm = "SHA-224" }, "first,first"},
		{"X-Road 6.x names", func(o *xroadgen.Options) { o.Groups = nil; o.Legacy = 3 }, "first"},
		{"200-character and spaced groups", func(o *xroadgen.Options) {
			o.Groups = []string{"EE/GOV/" + strings.Repeat("7", 230) + "/sub", "EE/COM/1234 5678/a\u0085b"}
		}, "first,first"},
		{"restart after a database reset", func(o *xroadgen.Options) { o.RestartAfter = 6 }, "first,restart,first,restart"},
		{"server in a local zone", func(o *xroadgen.Options) { o.Zone = tallinn }, "first,first"},
	}
}

func historyOptions(dir string) xroadgen.Options {
	return xroadgen.Options{Dir: dir, Start: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), Seed: 3,
		SmallArchives: 10, SmallSize: 6 << 10, Encrypted: 1, Groups: []string{"EE/GOV/70000310", "EE/COM/12345678/portal"}}
}

// shipHistory generates a history, lets before alter the volume, and
// ships it to a new local destination.
func shipHistory(t *testing.T, edit func(*xroadgen.Options), before func(dir string, files []xroadgen.File)) (store.Store, *manifest.Manifest, []xroadgen.File) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "xroad")
	o := historyOptions(dir)
	edit(&o)
	files, err := xroadgen.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(dir, files)
	}
	s, err := store.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3sync.Run(context.Background(), s3sync.Options{Source: dir, Store: s, RunID: "r1"}); err != nil {
		t.Fatal(err)
	}
	m, _, err := manifest.Latest(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return s, m, files
}

func startKinds(rep *Report) string {
	var k []string
	for _, c := range rep.Chains {
		k = append(k, c.Kind)
	}
	return strings.Join(k, ",")
}

// middle returns a plain archive that has both a predecessor and a
// successor in the manifest.
func middle(t *testing.T, m *manifest.Manifest) manifest.Entry {
	t.Helper()
	succ := map[string]bool{}
	for _, e := range m.Entries {
		if e.Chain != nil && e.Chain.PrevArchive != "" {
			succ[e.Chain.PrevArchive] = true
		}
	}
	for _, e := range m.Entries {
		if e.Chain != nil && e.Chain.PrevArchive != "" && succ[path.Base(e.Path)] {
			return e
		}
	}
	t.Fatal("no archive with a predecessor and a successor")
	return manifest.Entry{}
}

func TestRealServerHistories(t *testing.T) {
	ctx := context.Background()
	for _, h := range histories(t) {
		t.Run(h.name, func(t *testing.T) {
			t.Run("genuine", func(t *testing.T) {
				s, _, _ := shipHistory(t, h.edit, nil)
				rep, err := Run(ctx, Options{Store: s})
				if err != nil || rep.Status != "verified" {
					t.Fatalf("err %v, findings %+v", err, rep.Findings)
				}
				if got := startKinds(rep); got != h.starts {
					t.Errorf("chain starts = %s, want %s (%+v)", got, h.starts, rep.Chains)
				}
			})
			t.Run("altered before shipping", func(t *testing.T) {
				var victim string
				s, _, _ := shipHistory(t, h.edit, func(dir string, files []xroadgen.File) {
					for _, f := range files {
						if f.Kind == xroad.KindArchive {
							victim = f.Rel
							p := filepath.Join(dir, f.Rel)
							b, _ := os.ReadFile(p)
							// A byte in the middle of the first container.
							zr, _ := zip.NewReader(bytes.NewReader(b), int64(len(b)))
							off, _ := zr.File[0].DataOffset()
							b[off+int64(zr.File[0].CompressedSize64/2)] ^= 0x01
							st, _ := os.Stat(p)
							os.WriteFile(p, b, 0o640)
							os.Chtimes(p, st.ModTime(), st.ModTime())
							return
						}
					}
				})
				rep, err := Run(ctx, Options{Store: s})
				ev := findings(rep, KindEvidence)
				if !errors.Is(err, ErrFailed) || len(ev) == 0 || ev[0].Path != victim {
					t.Fatalf("err %v, evidence findings %+v, want %s named", err, ev, victim)
				}
			})
			t.Run("altered after shipping", func(t *testing.T) {
				s, m, _ := shipHistory(t, h.edit, nil)
				victim := middle(t, m)
				replace(t, s, victim.Key, func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b })
				rep, err := Run(ctx, Options{Store: s})
				c := findings(rep, KindContent)
				if !errors.Is(err, ErrFailed) || len(c) != 1 || c[0].Key != victim.Key {
					t.Fatalf("err %v, content findings %+v, want %s", err, c, victim.Key)
				}
			})
			t.Run("shipped archive deleted", func(t *testing.T) {
				s, m, _ := shipHistory(t, h.edit, nil)
				victim := middle(t, m)
				if err := s.Delete(ctx, victim.Key); err != nil {
					t.Fatal(err)
				}
				rep, err := Run(ctx, Options{Store: s})
				miss, br := findings(rep, KindMissing), findings(rep, KindChain)
				if !errors.Is(err, ErrFailed) || len(miss) != 1 || miss[0].Key != victim.Key || len(br) != 1 ||
					!strings.Contains(br[0].Detail, path.Base(victim.Path)) {
					t.Fatalf("err %v, missing %+v, breaks %+v; want %s named", err, miss, br, victim.Path)
				}
			})
		})
	}
}

// TestMidHistory covers the chain-start record: the first archive shipped
// may name a predecessor never archived here; one that was archived and
// disappears, or a gap later in what was shipped, is still a break.
func TestMidHistory(t *testing.T) {
	ctx := context.Background()
	drop := func(o *xroadgen.Options) { o.DropFirst = 3 }
	t.Run("recorded when first seen", func(t *testing.T) {
		_, m, _ := shipHistory(t, drop, nil)
		if len(m.ChainStarts) != 2 || !m.StartsRecorded {
			t.Fatalf("chain starts %+v", m.ChainStarts)
		}
		for _, c := range m.ChainStarts {
			if c.RunID != "r1" || c.PrevArchive == "" || c.PrevDigest == "" {
				t.Errorf("chain start %+v", c)
			}
		}
	})
	t.Run("the first archive shipped is deleted", func(t *testing.T) {
		s, m, _ := shipHistory(t, drop, nil)
		var first manifest.Entry
		for _, e := range m.Entries {
			if path.Base(e.Path) == m.ChainStarts[0].Archive {
				first = e
			}
		}
		s.Delete(ctx, first.Key)
		rep, err := Run(ctx, Options{Store: s})
		br := findings(rep, KindChain)
		if !errors.Is(err, ErrFailed) || len(br) != 1 || !strings.Contains(br[0].Detail, m.ChainStarts[0].Archive) {
			t.Fatalf("err %v, breaks %+v", err, br)
		}
	})
	t.Run("a gap in what was shipped", func(t *testing.T) {
		var gone string
		s, _, _ := shipHistory(t, drop, func(dir string, files []xroadgen.File) {
			// An archive in the middle leaves the volume before archiver
			// ships it.
			var plain []string
			for _, f := range files {
				if an, _ := xroad.ParseArchiveName(f.Rel); f.Kind == xroad.KindArchive && an.Group == "EE_GOV_70000310" {
					plain = append(plain, f.Rel)
				}
			}
			gone = plain[1]
			os.Remove(filepath.Join(dir, gone))
		})
		rep, err := Run(ctx, Options{Store: s})
		br := findings(rep, KindChain)
		if !errors.Is(err, ErrFailed) || len(br) != 1 || !strings.Contains(br[0].Detail, gone) || !strings.Contains(br[0].Detail, "never archived here") {
			t.Fatalf("err %v, breaks %+v; want a gap before %s", err, br, gone)
		}
	})
	t.Run("manifest from before the record", func(t *testing.T) {
		s, m, _ := shipHistory(t, drop, nil)
		m.ChainStarts, m.StartsRecorded = nil, false
		k, _ := manifest.Find(ctx, s, "r1")
		b, _ := m.Encode()
		replace(t, s, k, func([]byte) []byte { return b })
		rep, err := Run(ctx, Options{Store: s})
		if err != nil || startKinds(rep) != "mid-history,mid-history" || rep.Chains[0].RecordedBy != "" {
			t.Fatalf("err %v, chains %+v, findings %+v", err, rep.Chains, rep.Findings)
		}
	})
	t.Run("a later sync keeps the record", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "xroad")
		o := historyOptions(dir)
		o.DropFirst = 3
		if _, err := xroadgen.Generate(o); err != nil {
			t.Fatal(err)
		}
		s, _ := store.NewLocal(t.TempDir())
		s3sync.Run(ctx, s3sync.Options{Source: dir, Store: s, RunID: "r1"})
		os.WriteFile(filepath.Join(dir, "backup", "conf_backup_20261130-101010.gpg"), []byte("x"), 0o640)
		old := time.Now().Add(-time.Hour)
		os.Chtimes(filepath.Join(dir, "backup", "conf_backup_20261130-101010.gpg"), old, old)
		if _, err := s3sync.Run(ctx, s3sync.Options{Source: dir, Store: s, RunID: "r2"}); err != nil {
			t.Fatal(err)
		}
		m, _, _ := manifest.LoadRun(ctx, s, "r2")
		rep, err := Run(ctx, Options{Store: s})
		if m.Seq != 2 || len(m.ChainStarts) != 2 || m.ChainStarts[0].RunID != "r1" || err != nil || rep.Chains[0].RecordedBy != "r1" {
			t.Fatalf("seq %d, starts %+v; verify %v %+v", m.Seq, m.ChainStarts, err, rep.Chains)
		}
	})
}
