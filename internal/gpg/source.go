package gpg

import "errors"

// ErrSignersWithoutKey means signer files were given but no secret key to
// decrypt with: the caller names its flag or configuration key.
var ErrSignersWithoutKey = errors.New("accepted signers need a GnuPG home or a secret key file to decrypt with")

// Source is where an operator's key material is: verify's and
// verify-dir's flags, and the verify section of the configuration.
type Source struct {
	Home    string   // a GnuPG home (as /etc/xroad/gpghome)
	Keys    []string // exported secret key files
	Signers []string // public key files of the accepted signers (default: the secret keys' own)
}

// Load loads the key material: the home first, then the key files. It
// returns nil keys and no error when none is configured (encrypted
// archives are then checked for integrity only), and ErrSignersWithoutKey
// for signers alone.
func (s Source) Load() (*Keys, error) {
	paths := append([]string(nil), s.Keys...)
	if s.Home != "" {
		paths = append([]string{s.Home}, paths...)
	}
	if len(paths) == 0 {
		if len(s.Signers) > 0 {
			return nil, ErrSignersWithoutKey
		}
		return nil, nil
	}
	return Load(paths, s.Signers)
}
