package gpg

import (
	"bytes"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Keys is the operator's key material: the keys that decrypt archives and
// the keys whose signatures are accepted. Its String names keys by
// fingerprint and user id only.
type Keys struct {
	decrypt openpgp.EntityList // entities with secret keys
	signers openpgp.EntityList
}

// ErrNoSecretKey means the key material holds no usable secret key.
var ErrNoSecretKey = errors.New("no secret key to decrypt archives with")

// Load reads key material from each path: a GnuPG home directory (as
// /etc/xroad/gpghome: pubring.kbx with private-keys-v1.d/ from GnuPG 2.1
// and later, or secring.gpg and pubring.gpg from GnuPG 1.x), or a key file
// exported with gpg --export-secret-keys or --export, armored or binary.
// Secret keys decrypt; unless signerFiles are given, the keys that have a
// secret part (the server's own key pair, which X-Road signs with) are
// the accepted signers. signerFiles hold public keys that are then the
// only accepted signers.
func Load(paths, signerFiles []string) (*Keys, error) {
	var all openpgp.EntityList
	for _, p := range paths {
		el, err := loadPath(p)
		if err != nil {
			return nil, fmt.Errorf("load keys from %s: %w", p, err)
		}
		all = append(all, el...)
	}
	k := &Keys{}
	for _, e := range all {
		if hasSecret(e) {
			k.decrypt = append(k.decrypt, e)
		}
	}
	if len(k.decrypt) == 0 {
		return nil, fmt.Errorf("load keys from %s: %w", strings.Join(paths, ", "), ErrNoSecretKey)
	}
	k.signers = k.decrypt
	if len(signerFiles) > 0 {
		k.signers = nil
		for _, p := range signerFiles {
			el, err := loadPath(p)
			if err != nil {
				return nil, fmt.Errorf("load signing keys from %s: %w", p, err)
			}
			k.signers = append(k.signers, el...)
		}
		if len(k.signers) == 0 {
			return nil, fmt.Errorf("no signing keys in %s", strings.Join(signerFiles, ", "))
		}
	}
	return k, nil
}

func hasSecret(e *openpgp.Entity) bool {
	if e.PrivateKey != nil && !e.PrivateKey.Dummy() {
		return true
	}
	for _, s := range e.Subkeys {
		if s.PrivateKey != nil && !s.PrivateKey.Dummy() {
			return true
		}
	}
	return false
}

// String lists the keys: fingerprints and user ids, never key material.
func (k *Keys) String() string {
	desc := func(el openpgp.EntityList) string {
		var s []string
		for _, e := range el {
			s = append(s, describe(e))
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("decrypt with %s; accept signatures of %s", desc(k.decrypt), desc(k.signers))
}

func describe(e *openpgp.Entity) string {
	name := ""
	if id := e.PrimaryIdentity(); id != nil {
		name = " " + id.Name
	}
	return fmt.Sprintf("%X%s", e.PrimaryKey.Fingerprint, name)
}

func loadPath(p string) (openpgp.EntityList, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return loadHome(p)
	}
	return loadFile(p)
}

// loadFile reads an exported key file, armored or binary.
func loadFile(p string) (openpgp.EntityList, error) {
	b, err := readBounded(p)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(b[:min(len(b), 1024)], []byte("-----BEGIN PGP")) {
		return openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
	}
	return openpgp.ReadKeyRing(bytes.NewReader(b))
}

func readBounded(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("more than %d bytes: not a key file", maxKeyFile)
	}
	return b, nil
}

// loadHome reads a GnuPG home directory.
func loadHome(dir string) (openpgp.EntityList, error) {
	var pub openpgp.EntityList
	found := false
	if b, err := readBounded(filepath.Join(dir, "pubring.kbx")); err == nil {
		el, err := readKeybox(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("pubring.kbx: %w", err)
		}
		pub, found = append(pub, el...), true
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, name := range []string{"pubring.gpg", "secring.gpg"} {
		b, err := readBounded(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		el, err := openpgp.ReadKeyRing(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		pub, found = append(pub, el...), true
	}
	if !found {
		return nil, errors.New("not a GnuPG home: no pubring.kbx, pubring.gpg or secring.gpg")
	}
	// GnuPG 2.1+: secret keys live in private-keys-v1.d/<keygrip>.key;
	// attach each to the public key (primary or subkey) with its modulus.
	ents, err := os.ReadDir(filepath.Join(dir, "private-keys-v1.d"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for _, de := range ents {
		if !strings.HasSuffix(de.Name(), ".key") {
			continue
		}
		b, err := readBounded(filepath.Join(dir, "private-keys-v1.d", de.Name()))
		if err != nil {
			return nil, err
		}
		priv, err := parsePrivateKey(b)
		if err != nil {
			if errors.Is(err, ErrKeyProtected) {
				continue // another key (a card, a protected import): not X-Road's
			}
			return nil, fmt.Errorf("private-keys-v1.d/%s: %w", de.Name(), err)
		}
		attach(pub, priv)
	}
	return merge(pub), nil
}

// attach sets priv as the secret part of every public key with its modulus.
func attach(el openpgp.EntityList, priv *rsa.PrivateKey) {
	match := func(pk *packet.PublicKey) *packet.PrivateKey {
		rp, ok := pk.PublicKey.(*rsa.PublicKey)
		if !ok || rp.N.Cmp(priv.N) != 0 || rp.E != priv.E {
			return nil
		}
		sk := packet.NewRSAPrivateKey(pk.CreationTime, priv)
		if !bytes.Equal(sk.Fingerprint, pk.Fingerprint) {
			return nil
		}
		return sk
	}
	for _, e := range el {
		if sk := match(e.PrimaryKey); sk != nil {
			e.PrivateKey = sk
		}
		for i := range e.Subkeys {
			if sk := match(e.Subkeys[i].PublicKey); sk != nil {
				e.Subkeys[i].PrivateKey = sk
			}
		}
	}
}

// merge keeps one entity per primary fingerprint, preferring one with a
// secret key (GnuPG 1.x homes list each key in both rings).
func merge(el openpgp.EntityList) openpgp.EntityList {
	byFP := map[string]int{}
	var out openpgp.EntityList
	for _, e := range el {
		fp := string(e.PrimaryKey.Fingerprint)
		if i, ok := byFP[fp]; ok {
			if !hasSecret(out[i]) && hasSecret(e) {
				out[i] = e
			}
			continue
		}
		byFP[fp] = len(out)
		out = append(out, e)
	}
	return out
}
