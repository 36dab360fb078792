package snapshot

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/xroad-archiver/archiver/internal/codec"
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

func writeTar(ctx context.Context, w io.Writer, root string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// What archiver's user may not read (a root-only lost+found)
			// was skipped by the content scan too: leave it out.
			if errors.Is(err, fs.ErrPermission) && p != root {
				if d != nil && d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		var f *os.File
		if d.Type().IsRegular() {
			if f, err = os.Open(p); errors.Is(err, fs.ErrPermission) {
				return nil
			} else if err != nil {
				return err
			}
			defer f.Close()
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if d.Type()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if f == nil {
			return nil
		}
		n, err := io.Copy(tw, io.LimitReader(f, hdr.Size))
		if err != nil {
			return err
		}
		if n != hdr.Size {
			return fmt.Errorf("%s shrank from %d to %d bytes while it was read", rel, hdr.Size, n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
