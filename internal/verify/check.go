package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"

	"github.com/xroad-archiver/archiver/internal/codec"
	"github.com/xroad-archiver/archiver/internal/gpg"
	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/xroad"
)

// objectCheck is the re-read of one object: what it found, and the
// archive's chain link read from its content (nil if none).
type objectCheck struct {
	e        manifest.Entry
	findings []Finding
	link     *xroad.Link
}

func (c *objectCheck) add(kind, detail string) {
	c.findings = append(c.findings, Finding{Severity: "error", Kind: kind, Key: c.e.Key, Path: c.e.Path, Detail: detail})
}

// check re-reads one object. Destination-wide problems (access, KMS) are
// returned as errors; problems with the object are findings.
func (o *Options) check(ctx context.Context, e manifest.Entry) ([]Finding, *xroad.Link, error) {
	c := &objectCheck{e: e}
	rc, obj, err := o.Store.Get(ctx, e.Key)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			c.add(KindMissing, "disappeared while verifying")
			return c.findings, nil, nil
		}
		return nil, nil, err
	}
	if o.RequireEncryption && obj.Encryption == "" {
		c.add(KindEncryption, "the destination reports no server-side encryption")
	}
	body, err := codec.Decode(rc, e.Encoding)
	if err != nil {
		c.add(KindContent, err.Error())
		return c.findings, nil, nil
	}
	defer body.Close()
	if err := o.readBack(ctx, c, body); err != nil {
		return nil, nil, err
	}
	return c.findings, c.link, nil
}

// readBack hashes the decoded body against the record and, for archives,
// checks them as evidence: what is stored is what an auditor would get,
// so an archive whose SHA-256 differs is still checked.
func (o *Options) readBack(ctx context.Context, c *objectCheck, body io.Reader) error {
	plain := c.e.Kind == xroad.KindArchive.String()
	encrypted := c.e.Kind == xroad.KindEncryptedArchive.String()
	var spool *os.File
	if plain || encrypted && o.Keys != nil {
		var err error
		if spool, err = newSpool(o.TempDir); err != nil {
			return err
		}
		defer spool.Close()
	}
	h := sha256.New()
	var n int64
	var msgErr, err error // msgErr: the encrypted archive fails as evidence
	if encrypted {
		n, msgErr, err = o.readEncrypted(body, h, spool)
	} else {
		w := io.Writer(h)
		if plain {
			w = io.MultiWriter(h, spoolWriter{spool})
		}
		n, err = io.Copy(w, body)
	}
	if err != nil {
		if store.IsFatal(err) || ctx.Err() != nil || errors.Is(err, errSpool) {
			return err
		}
		c.add(KindContent, "read: "+err.Error())
		return nil
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != c.e.SHA256 || n != c.e.Size {
		c.add(KindContent, fmt.Sprintf("content has SHA-256 %s (%d bytes); the manifest records %s (%d bytes)", got, n, c.e.SHA256, c.e.Size))
	}
	switch {
	case msgErr != nil:
		c.add(KindEvidence, msgErr.Error())
		return nil
	case !plain && (!encrypted || o.Keys == nil):
		return nil
	}
	if encrypted {
		if n, err = spool.Seek(0, io.SeekCurrent); err != nil {
			return fmt.Errorf("%w: %v", errSpool, err)
		}
	}
	c.evidence(spool, n, encrypted)
	return nil
}

// readEncrypted hashes what is stored while reading the OpenPGP message
// from it; with keys, the plaintext goes to the unlinked spool only. It
// returns the stored size, the message's failure as evidence, and a
// failure to read the object or write the spool.
func (o *Options) readEncrypted(body io.Reader, h hash.Hash, spool *os.File) (int64, error, error) {
	cr := &countReader{r: io.TeeReader(body, h)}
	var msgErr, err error
	if o.Keys != nil {
		_, msgErr = o.Keys.Decrypt(cr, spoolWriter{spool})
	} else {
		msgErr = gpg.CheckFraming(cr)
	}
	if msgErr != nil && !errors.Is(msgErr, gpg.ErrMessage) {
		err = msgErr
	} else {
		_, err = io.Copy(io.Discard, cr) // the rest still counts for the SHA-256
	}
	return cr.n, msgErr, err
}

// evidence checks the spooled archive (n bytes) with X-Road's rules and
// keeps the chain recomputed from it (only the name may disagree) for
// continuity, since it is what the destination holds.
func (c *objectCheck) evidence(spool *os.File, n int64, encrypted bool) {
	name := path.Base(c.e.Path)
	ac, err := xroad.CheckArchive(spool, n, name)
	if encrypted && err != nil {
		err = fmt.Errorf("decrypted and signed by an accepted key, but: %w", err)
	}
	if err != nil {
		c.add(KindEvidence, err.Error())
	}
	if ac.Containers == 0 {
		return // no trustworthy chain in it
	}
	l := xroad.LinkOf(name, ac.Link)
	c.link = &l
	if r := c.e.Chain; r != nil && (r.LastDigest != l.LastDigest || r.PrevArchive != l.PrevArchive || r.PrevDigest != l.PrevDigest) {
		c.add(KindEvidence, "linkinginfo differs from what was recorded when the archive was shipped")
	}
}
