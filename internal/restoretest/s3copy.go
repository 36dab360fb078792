package restoretest

import (
	"context"
	"errors"

	"github.com/xroad-archiver/archiver/internal/content"
	"github.com/xroad-archiver/archiver/internal/dircheck"
	"github.com/xroad-archiver/archiver/internal/gpg"
	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/restore"
	"github.com/xroad-archiver/archiver/internal/store"
)

// RestoreAndCheck is the restore test of the S3 copy, as the verifier pod
// runs it: it restores the archives of the sync run asOf ("": the latest)
// from st into dir (each file's SHA-256 checked as it is written), then
// re-reads what landed on the disk against the run's manifest, decrypting
// .zip.gpg archives with keys when given.
func RestoreAndCheck(ctx context.Context, st store.Reader, dir, asOf string, keys *gpg.Keys) (*dircheck.Result, error) {
	var m *manifest.Manifest
	var err error
	if asOf != "" {
		m, _, err = manifest.LoadRun(ctx, st, asOf)
	} else {
		m, _, err = manifest.Latest(ctx, st)
	}
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, restore.ErrNoManifest
	}
	rres, err := restore.Run(ctx, restore.Options{Store: st, To: dir, AsOf: m.RunID, Concurrency: 4})
	if err != nil && !errors.Is(err, restore.ErrPartial) {
		return nil, err
	}
	var files []content.File
	for _, e := range manifest.Current(m.Entries) {
		files = append(files, content.File{Path: e.Path, Size: e.Size, MTime: e.MTime, Kind: e.Kind, SHA256: e.SHA256})
	}
	res, err := dircheck.CheckWith(ctx, dir, files, dircheck.Options{Keys: keys})
	if err != nil {
		return nil, err
	}
	res.RestoreSeconds, res.RunID = rres.DurationSec, m.RunID
	return res, nil
}
