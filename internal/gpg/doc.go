// Package gpg opens X-Road's encrypted message-log archives (.zip.gpg):
// binary OpenPGP messages that X-Road's GPGOutputStream has gpg sign and
// then encrypt (--encrypt --sign --compress-algo none --cipher-algo
// AES-256 --digest-algo SHA256). It loads the operator's key material (a
// GnuPG home such as /etc/xroad/gpghome, in GnuPG 2.1+ or 1.x layout, or
// exported key files), decrypts a message as a stream while checking its
// signature against the accepted signing keys, and checks that a message
// it cannot decrypt is at least well-formed OpenPGP.
//
// It uses github.com/ProtonMail/go-crypto and never runs gpg. It holds
// secret keys in memory only, never writes plaintext anywhere but the
// io.Writer it is given, and never logs or formats key material: errors
// and descriptions name keys by fingerprint and user id.
package gpg
