package main

import (
	"errors"

	"github.com/spf13/pflag"

	"github.com/xroad-archiver/archiver/internal/gpg"
)

// gpgOptions is the key material verify-dir checks .zip.gpg archives
// with (verify binds the same flags into config.Verify). Paths are logged;
// key material never is.
type gpgOptions gpg.Source

// addGPGFlags binds the flags of the key material to home, keys and
// signers (a gpgOptions' or the verify section's).
func addGPGFlags(fs *pflag.FlagSet, home *string, keys, signers *[]string) {
	fs.StringVar(home, "gpg-home", "", "GnuPG home holding the key that decrypts .zip.gpg archives (a copy of the server's /etc/xroad/gpghome, mounted read-only) [$ARCHIVER_GPG_HOME]")
	fs.StringSliceVar(keys, "gpg-key", nil, "secret key file exported with gpg --export-secret-keys (armored or binary); repeatable")
	fs.StringSliceVar(signers, "gpg-signer", nil, "public key file of an accepted archive signer (default: the keys with a secret part); repeatable")
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
