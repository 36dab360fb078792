package main

import (
	"errors"

	"github.com/spf13/pflag"

	"github.com/xroad-archiver/archiver/internal/gpg"
)

// gpgOptions is the key material verify and verify-dir check .zip.gpg
// archives with. Paths are logged; key material never is.
type gpgOptions gpg.Source

func (o *gpgOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Home, "gpg-home", "", "GnuPG home holding the key that decrypts .zip.gpg archives (a copy of the server's /etc/xroad/gpghome, mounted read-only) [$ARCHIVER_GPG_HOME]")
	fs.StringSliceVar(&o.Keys, "gpg-key", nil, "secret key file exported with gpg --export-secret-keys (armored or binary); repeatable")
	fs.StringSliceVar(&o.Signers, "gpg-signer", nil, "public key file of an accepted archive signer (default: the keys with a secret part); repeatable")
}

// load returns nil when no key material is configured: encrypted
// archives are then checked for integrity only.
func (o *gpgOptions) load() (*gpg.Keys, error) {
	keys, err := gpg.Source(*o).Load()
	if errors.Is(err, gpg.ErrSignersWithoutKey) {
		return nil, usageErrorf("--gpg-signer needs --gpg-home or --gpg-key to decrypt with")
	}
	return keys, err
}
