package xroadgen

import (
	"bytes"
	"crypto"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// PGP is a generated server key pair, standing in for the key in
// /etc/xroad/gpghome that generate_gpg_keypair.sh creates (one RSA key,
// no passphrase, the security server id as its user id). Archives are
// signed with Signer and encrypted to Recipients, as X-Road's
// GPGOutputStream runs gpg: --encrypt --sign --compress-algo none
// --cipher-algo AES-256 --digest-algo SHA256, binary output.
type PGP struct {
	Signer     *openpgp.Entity
	Recipients openpgp.EntityList
}

// NewPGP generates an RSA key pair (bits 2048 or more) for the server id.
func NewPGP(serverID string, bits int, created time.Time) (*PGP, error) {
	e, err := openpgp.NewEntity(serverID, "", "", &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: bits,
		Time: func() time.Time { return created }, DefaultHash: crypto.SHA256})
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return &PGP{Signer: e, Recipients: openpgp.EntityList{e}}, nil
}

func (p *PGP) seal(plain []byte) ([]byte, error) {
	var out bytes.Buffer
	cfg := &packet.Config{DefaultCipher: packet.CipherAES256, DefaultHash: crypto.SHA256, DefaultCompressionAlgo: packet.CompressionNone}
	w, err := openpgp.Encrypt(&out, p.Recipients, p.Signer, &openpgp.FileHints{IsBinary: true}, cfg)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Seal signs and encrypts r into w as X-Road's gpg call does, streaming.
func (p *PGP) Seal(w io.Writer, r io.Reader) error {
	cfg := &packet.Config{DefaultCipher: packet.CipherAES256, DefaultHash: crypto.SHA256, DefaultCompressionAlgo: packet.CompressionNone}
	pw, err := openpgp.Encrypt(w, p.Recipients, p.Signer, &openpgp.FileHints{IsBinary: true}, cfg)
	if err != nil {
		return fmt.Errorf("encrypt: %w", err)
	}
	if _, err := io.Copy(pw, r); err != nil {
		return err
	}
	return pw.Close()
}

// WriteGnuPG1Home writes the key pair as a GnuPG 1.x home holds it
// (secring.gpg and pubring.gpg, binary transferable keys), the layout of
// /etc/xroad/gpghome on servers set up with gpg 1.
func (p *PGP) WriteGnuPG1Home(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var sec, pub bytes.Buffer
	if err := p.Signer.SerializePrivate(&sec, nil); err != nil {
		return err
	}
	if err := p.Signer.Serialize(&pub); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "secring.gpg"), sec.Bytes(), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "pubring.gpg"), pub.Bytes(), 0o600)
}

// ExportSecret writes the secret key as `gpg --export-secret-keys
// [--armor]` does.
func (p *PGP) ExportSecret(w io.Writer, armored bool) error {
	if !armored {
		return p.Signer.SerializePrivate(w, nil)
	}
	aw, err := armor.Encode(w, openpgp.PrivateKeyType, nil)
	if err != nil {
		return err
	}
	if err := p.Signer.SerializePrivate(aw, nil); err != nil {
		return err
	}
	return aw.Close()
}

// ExportPublic writes the public key as `gpg --export --armor` does.
func (p *PGP) ExportPublic(w io.Writer) error {
	aw, err := armor.Encode(w, openpgp.PublicKeyType, nil)
	if err != nil {
		return err
	}
	if err := p.Signer.Serialize(aw); err != nil {
		return err
	}
	return aw.Close()
}
