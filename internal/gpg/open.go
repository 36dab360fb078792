package gpg

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// ErrMessage marks an encrypted archive that fails: not well-formed
// OpenPGP, not decryptable with the keys given, altered (integrity check),
// or not signed by an accepted key. Errors wrapping it are evidence
// findings about the archive, not failures to check it.
var ErrMessage = errors.New("encrypted archive check failed")

// ring answers go-crypto's key lookups: decryption keys for the session
// key, accepted signers for the signature.
type ring struct{ k *Keys }

func (r ring) KeysById(id uint64) []openpgp.Key { return r.k.decrypt.KeysById(id) }
func (r ring) KeysByIdUsage(id uint64, usage byte) []openpgp.Key {
	return r.k.signers.KeysByIdUsage(id, usage)
}
func (r ring) DecryptionKeys() []openpgp.Key { return r.k.decrypt.DecryptionKeys() }

// Signed says who signed a decrypted archive.
type Signed struct {
	Fingerprint string // of the signing key's primary key, upper-case hex
	UserID      string
}

// Decrypt reads the OpenPGP message r, writes its plaintext to w as it
// goes (memory stays bounded whatever the size), and checks that it was
// signed by an accepted key and that its integrity check holds. The
// plaintext written before an error must be discarded. An error wrapping
// ErrMessage is about the message; any other is a read or write error.
func (k *Keys) Decrypt(r io.Reader, w io.Writer) (Signed, error) {
	var s Signed
	md, err := openpgp.ReadMessage(r, ring{k}, nil, &packet.Config{})
	if err != nil {
		if errors.Is(err, pgperrors.ErrKeyIncorrect) {
			return s, fmt.Errorf("%w: cannot be decrypted with the keys given (%s)", ErrMessage, recipients(k))
		}
		return s, fmt.Errorf("%w: %v", ErrMessage, err)
	}
	if !md.IsEncrypted {
		return s, fmt.Errorf("%w: not encrypted", ErrMessage)
	}
	if _, err := io.Copy(markWriter{w}, md.UnverifiedBody); err != nil {
		var we writeErr
		if errors.As(err, &we) {
			return s, we.err
		}
		return s, fmt.Errorf("%w: %v", ErrMessage, err)
	}
	switch {
	case !md.IsSigned:
		return s, fmt.Errorf("%w: not signed (X-Road signs every archive)", ErrMessage)
	case md.SignedBy == nil:
		return s, fmt.Errorf("%w: signed by key %016X, which is not an accepted signing key", ErrMessage, md.SignedByKeyId)
	case md.SignatureError != nil:
		return s, fmt.Errorf("%w: bad signature by %s: %v", ErrMessage, describe(md.SignedBy.Entity), md.SignatureError)
	}
	s.Fingerprint = fmt.Sprintf("%X", md.SignedBy.Entity.PrimaryKey.Fingerprint)
	if id := md.SignedBy.Entity.PrimaryIdentity(); id != nil {
		s.UserID = id.Name
	}
	return s, nil
}

// writeErr marks an error of the writer the plaintext goes to (a full
// spool disk), so it is not taken for a fault of the message.
type writeErr struct{ err error }

func (e writeErr) Error() string { return e.err.Error() }

type markWriter struct{ w io.Writer }

func (m markWriter) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	if err != nil {
		err = writeErr{err}
	}
	return n, err
}

func recipients(k *Keys) string {
	var s []string
	for _, e := range k.decrypt {
		s = append(s, describe(e))
	}
	return strings.Join(s, ", ")
}

// CheckFraming reads r to the end and checks, without any key, that it is
// a well-formed OpenPGP encrypted message as gpg --encrypt writes: one or
// more public-key (or passphrase) encrypted session keys, then one
// integrity-protected encrypted data packet whose framing reaches the end
// of the input exactly. It proves the archive is intact OpenPGP, not what
// it holds or who signed it.
func CheckFraming(r io.Reader) error {
	pr := packet.NewReader(r)
	keys, data := 0, false
	for {
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: not well-formed OpenPGP: %v", ErrMessage, err)
		}
		if data {
			return fmt.Errorf("%w: data after the encrypted data packet", ErrMessage)
		}
		switch p := p.(type) {
		case *packet.EncryptedKey, *packet.SymmetricKeyEncrypted:
			keys++
		case *packet.SymmetricallyEncrypted:
			if !p.IntegrityProtected {
				return fmt.Errorf("%w: encrypted data without integrity protection", ErrMessage)
			}
			if _, err := io.Copy(io.Discard, p.Contents); err != nil {
				return fmt.Errorf("%w: encrypted data packet: %v", ErrMessage, err)
			}
			data = true
		case *packet.AEADEncrypted:
			return fmt.Errorf("%w: AEAD-encrypted data (not what X-Road's gpg call writes)", ErrMessage)
		default:
			return fmt.Errorf("%w: unexpected %T packet in an encrypted message", ErrMessage, p)
		}
	}
	if keys == 0 || !data {
		return fmt.Errorf("%w: not an encrypted OpenPGP message (%d session keys, encrypted data %v)", ErrMessage, keys, data)
	}
	return nil
}
