package main

import (
	"github.com/spf13/pflag"

	"github.com/xroad-archiver/archiver/internal/gpg"
)

// gpgOptions is the key material verify and verify-dir check .zip.gpg
// archives with. Paths are logged; key material never is.
type gpgOptions struct {
	home    string
	keys    []string
	signers []string
}

func (o *gpgOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.home, "gpg-home", "", "GnuPG home holding the key that decrypts .zip.gpg archives (a copy of the server's /etc/xroad/gpghome, mounted read-only) [$ARCHIVER_GPG_HOME]")
	fs.StringSliceVar(&o.keys, "gpg-key", nil, "secret key file exported with gpg --export-secret-keys (armored or binary); repeatable")
	fs.StringSliceVar(&o.signers, "gpg-signer", nil, "public key file of an accepted archive signer (default: the keys with a secret part); repeatable")
}

// load returns nil when no key material is configured: encrypted
// archives are then checked for integrity only.
func (o *gpgOptions) load() (*gpg.Keys, error) {
	paths := append([]string(nil), o.keys...)
	if o.home != "" {
		paths = append([]string{o.home}, paths...)
	}
	if len(paths) == 0 {
		if len(o.signers) > 0 {
			return nil, usageErrorf("--gpg-signer needs --gpg-home or --gpg-key to decrypt with")
		}
		return nil, nil
	}
	return gpg.Load(paths, o.signers)
}
