package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/xroad-archiver/archiver/internal/codec"
	"github.com/xroad-archiver/archiver/internal/dirtar"
	"github.com/xroad-archiver/archiver/internal/store"
)

// TarVolume streams the directory root as a zstd-compressed tar into the
// store at key (SSE-KMS and checksums as for every archiver object) and
// returns what it stored. Symlinks are stored as links, never followed;
// a file that changes size while it is read fails the backup.
func TarVolume(ctx context.Context, s store.Store, key, root string, files []ContentFile, runID string) (*TarInfo, error) {
	var total int64
	for _, f := range files {
		total += f.Size + 1024
	}
	pr, pw := io.Pipe()
	h := sha256.New()
	counter := &countingWriter{}
	go func() {
		cr, cw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := codec.Compress(pw, cr)
			cr.CloseWithError(err)
			done <- err
		}()
		err := writeTar(ctx, io.MultiWriter(cw, h, counter), root)
		cw.CloseWithError(err)
		if cerr := <-done; err == nil {
			err = cerr
		}
		pw.CloseWithError(err)
	}()
	obj, err := s.Put(ctx, key, store.Payload{Stream: pr, Size: codec.MaxCompressed(total + 1<<20)},
		store.Meta{Encoding: codec.Zstd, Path: key, RunID: runID})
	pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		return nil, fmt.Errorf("store tar of %s: %w", root, err)
	}
	return &TarInfo{Key: key, SHA256: hex.EncodeToString(h.Sum(nil)), Size: counter.n, StoredSize: obj.Size}, nil
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// writeTar writes the volume as a tar; what archiver's user may not read
// (a root-only lost+found) was skipped by the content scan too and is
// left out.
func writeTar(ctx context.Context, w io.Writer, root string) error {
	return dirtar.Write(ctx, w, root, dirtar.Options{SkipUnreadable: true})
}
