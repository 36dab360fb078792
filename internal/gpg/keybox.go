package gpg

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// maxKeyFile bounds a keyring or key file read into memory.
const maxKeyFile = 64 << 20

// readKeybox reads the OpenPGP keyblocks of a GnuPG 2.1+ pubring.kbx. A
// keybox is a sequence of blobs: a 4-byte big-endian length (of the whole
// blob), a type byte (1 header, 2 OpenPGP, 3 X.509), a version byte, two
// flag bytes, and for OpenPGP blobs the offset and length of the keyblock
// within the blob (GnuPG's kbx/keybox-blob.c).
func readKeybox(r io.Reader) (openpgp.EntityList, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxKeyFile))
	if err != nil {
		return nil, err
	}
	var out openpgp.EntityList
	for off := 0; off < len(b); {
		if len(b)-off < 8 {
			return nil, fmt.Errorf("keybox: truncated blob at offset %d", off)
		}
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n < 8 || n > len(b)-off {
			return nil, fmt.Errorf("keybox: blob at offset %d has bad length %d", off, n)
		}
		blob := b[off : off+n]
		off += n
		if blob[4] != 2 { // not OpenPGP: header, X.509 or empty
			continue
		}
		if len(blob) < 16 {
			return nil, fmt.Errorf("keybox: short OpenPGP blob")
		}
		ko, kl := int(binary.BigEndian.Uint32(blob[8:])), int(binary.BigEndian.Uint32(blob[12:]))
		if ko < 16 || kl <= 0 || ko > len(blob) || kl > len(blob)-ko {
			return nil, fmt.Errorf("keybox: keyblock outside its blob")
		}
		el, err := openpgp.ReadKeyRing(bytes.NewReader(blob[ko : ko+kl]))
		if err != nil {
			return nil, fmt.Errorf("keybox: keyblock: %w", err)
		}
		out = append(out, el...)
	}
	return out, nil
}
