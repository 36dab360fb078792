package verify

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/gpg"
	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/s3sync"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/xroad"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

var (
	pgpOnce      sync.Once
	serverKey    *xroadgen.PGP
	otherKey     *xroadgen.PGP
	serverKeyErr error
)

// keys generates the server's key pair (and another server's) once.
func keys(t *testing.T) (*xroadgen.PGP, *xroadgen.PGP) {
	t.Helper()
	pgpOnce.Do(func() {
		created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		if serverKey, serverKeyErr = xroadgen.NewPGP("EE/GOV/70000310/ss1", 2048, created); serverKeyErr == nil {
			otherKey, serverKeyErr = xroadgen.NewPGP("EE/GOV/70000310/ss9", 2048, created)
		}
	})
	if serverKeyErr != nil {
		t.Fatal(serverKeyErr)
	}
	return serverKey, otherKey
}

// home writes k as a GnuPG home and loads it; signers are public key files.
func home(t *testing.T, k *xroadgen.PGP, signers ...*xroadgen.PGP) *gpg.Keys {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "gpghome")
	if err := k.WriteGnuPG1Home(dir); err != nil {
		t.Fatal(err)
	}
	var files []string
	for i, s := range signers {
		p := filepath.Join(t.TempDir(), "signer"+string(rune('0'+i))+".asc")
		f, _ := os.Create(p)
		s.ExportPublic(f)
		f.Close()
		files = append(files, p)
	}
	ks, err := gpg.Load([]string{dir}, files)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func encryptedHistory(t *testing.T, before func(dir string, files []xroadgen.File)) (store.Store, *manifest.Manifest, []xroadgen.File) {
	server, _ := keys(t)
	return shipHistory(t, func(o *xroadgen.Options) { o.Encrypted = 3; o.PGP = server }, before)
}

func encryptedEntries(m *manifest.Manifest) []manifest.Entry {
	var out []manifest.Entry
	for _, e := range m.Entries {
		if e.Kind == xroad.KindEncryptedArchive.String() {
			out = append(out, e)
		}
	}
	return out
}

func TestEncryptedArchives(t *testing.T) {
	ctx := context.Background()
	server, other := keys(t)
	t.Run("no keys: integrity only, said so", func(t *testing.T) {
		s, _, _ := encryptedHistory(t, nil)
		rep, err := Run(ctx, Options{Store: s})
		if err != nil || rep.Encrypted != 3 || rep.IntegrityOnly != 3 || rep.Decrypted != 0 {
			t.Fatalf("err %v, encrypted %d, integrity only %d, decrypted %d; findings %+v", err, rep.Encrypted, rep.IntegrityOnly, rep.Decrypted, rep.Findings)
		}
	})
	t.Run("with the key: decrypted, signature and chain checked", func(t *testing.T) {
		s, m, _ := encryptedHistory(t, nil)
		rep, err := Run(ctx, Options{Store: s, Keys: home(t, server)})
		plain := 0
		for _, e := range m.Entries {
			if e.Kind == "archive" {
				plain++
			}
		}
		if err != nil || rep.Decrypted != 3 || rep.IntegrityOnly != 0 || rep.Archives != plain+3 || startKinds(rep) != "first,first" {
			t.Fatalf("err %v, decrypted %d, archives %d, chains %+v; findings %+v", err, rep.Decrypted, rep.Archives, rep.Chains, rep.Findings)
		}
	})
	t.Run("configured signer", func(t *testing.T) {
		s, _, _ := encryptedHistory(t, nil)
		if rep, err := Run(ctx, Options{Store: s, Keys: home(t, server, server)}); err != nil || rep.Decrypted != 3 {
			t.Fatalf("err %v, %+v", err, rep.Findings)
		}
	})
	t.Run("wrong signing key", func(t *testing.T) {
		s, m, _ := encryptedHistory(t, nil)
		rep, err := Run(ctx, Options{Store: s, Keys: home(t, server, other)})
		ev := findings(rep, KindEvidence)
		named := map[string]bool{}
		for _, f := range ev {
			named[f.Key] = true
		}
		if !errors.Is(err, ErrFailed) || len(ev) != 3 || !strings.Contains(ev[0].Detail, "not an accepted signing key") || !named[encryptedEntries(m)[0].Key] {
			t.Fatalf("err %v, evidence %+v", err, ev)
		}
	})
	t.Run("wrong decryption key", func(t *testing.T) {
		s, _, _ := encryptedHistory(t, nil)
		rep, err := Run(ctx, Options{Store: s, Keys: home(t, other)})
		ev := findings(rep, KindEvidence)
		if !errors.Is(err, ErrFailed) || len(ev) != 3 || !strings.Contains(ev[0].Detail, "cannot be decrypted") {
			t.Fatalf("err %v, evidence %+v", err, ev)
		}
	})
	t.Run("altered container before shipping", func(t *testing.T) {
		// The server's own archive, decrypted, altered and re-sealed with
		// its key: only the chain inside can tell.
		var victim string
		s, _, _ := encryptedHistory(t, func(dir string, files []xroadgen.File) {
			for _, f := range files {
				if f.Kind != xroad.KindEncryptedArchive {
					continue
				}
				victim = f.Rel
				p := filepath.Join(dir, f.Rel)
				ks := home(t, server)
				in, _ := os.Open(p)
				var plain strings.Builder
				ks.Decrypt(in, &plain)
				in.Close()
				b := []byte(plain.String())
				b[len(b)/4] ^= 0x01
				st, _ := os.Stat(p)
				out, _ := os.Create(p)
				server.Seal(out, strings.NewReader(string(b)))
				out.Close()
				os.Chtimes(p, st.ModTime(), st.ModTime())
				return
			}
		})
		rep, err := Run(ctx, Options{Store: s, Keys: home(t, server)})
		ev := findings(rep, KindEvidence)
		if !errors.Is(err, ErrFailed) || len(ev) == 0 || ev[0].Path != victim {
			t.Fatalf("err %v, evidence %+v; want %s named", err, ev, victim)
		}
	})
	t.Run("altered after shipping", func(t *testing.T) {
		for _, withKeys := range []bool{false, true} {
			s, m, _ := encryptedHistory(t, nil)
			victim := encryptedEntries(m)[1]
			replace(t, s, victim.Key, func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b })
			o := Options{Store: s}
			if withKeys {
				o.Keys = home(t, server)
			}
			rep, err := Run(ctx, o)
			c := findings(rep, KindContent)
			if !errors.Is(err, ErrFailed) || len(c) != 1 || c[0].Key != victim.Key {
				t.Fatalf("keys %v: err %v, content %+v", withKeys, err, c)
			}
			if ev := findings(rep, KindEvidence); withKeys && (len(ev) != 1 || ev[0].Key != victim.Key) {
				t.Fatalf("keys: evidence %+v, want %s (integrity check)", ev, victim.Key)
			}
		}
	})
	t.Run("shipped archive deleted", func(t *testing.T) {
		s, m, _ := encryptedHistory(t, nil)
		var victim manifest.Entry
		for _, e := range m.Entries { // an encrypted archive with a successor
			for _, n := range m.Entries {
				if n.Chain != nil && n.Chain.PrevArchive == path.Base(e.Path) && e.Kind == xroad.KindEncryptedArchive.String() {
					victim = e
				}
			}
		}
		s.Delete(ctx, victim.Key)
		rep, err := Run(ctx, Options{Store: s, Keys: home(t, server)})
		miss, br := findings(rep, KindMissing), findings(rep, KindChain)
		if !errors.Is(err, ErrFailed) || len(miss) != 1 || miss[0].Key != victim.Key || len(br) != 1 || !strings.Contains(br[0].Detail, path.Base(victim.Path)) {
			t.Fatalf("err %v, missing %+v, breaks %+v", err, miss, br)
		}
	})
	t.Run("mid-history start at an encrypted archive", func(t *testing.T) {
		s, _, _ := shipHistory(t, func(o *xroadgen.Options) { o.Encrypted = 1; o.PGP = server; o.DropFirst = 2 }, nil)
		rep, err := Run(ctx, Options{Store: s, Keys: home(t, server)})
		if err != nil || startKinds(rep) != "mid-history,mid-history" {
			t.Fatalf("err %v, chains %+v, findings %+v", err, rep.Chains, rep.Findings)
		}
	})
}

// TestRealGnuPGArchive ships an archive gpg 2.2 encrypted and signed with
// X-Road's arguments and verifies it with the GnuPG 2.2 home it came from.
func TestRealGnuPGArchive(t *testing.T) {
	ctx := context.Background()
	const name = "mlog-20261120000000-20261120000009-97090bb5b95b1729.zip.gpg"
	dir := filepath.Join(t.TempDir(), "xroad")
	os.MkdirAll(dir, 0o755)
	b, err := os.ReadFile(filepath.Join("..", "gpg", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, name), b, 0o640)
	s, _ := store.NewLocal(t.TempDir())
	if _, err := s3sync.Run(ctx, s3sync.Options{Source: dir, Store: s, RunID: "r1"}); err != nil {
		t.Fatal(err)
	}
	ks, err := gpg.Load([]string{filepath.Join("..", "gpg", "testdata", "gpghome")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(ctx, Options{Store: s, Keys: ks})
	if err != nil || rep.Decrypted != 1 || rep.Archives != 1 || startKinds(rep) != "first" {
		t.Fatalf("err %v, %+v", err, rep)
	}
}
