// Package dirtar writes a directory tree as a tar stream, with paths
// relative to the tree's root: the one tar writer behind a hostPath
// volume's backup (snapshot) and the oci-archive of `make image`
// (tools/mkimage).
//
// It only reads the tree and writes the stream: it must not compress,
// store or name what it writes.
package dirtar

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Options change what Write does with the tree.
type Options struct {
	// SkipUnreadable leaves out what the process may not read (a
	// root-only lost+found) instead of failing.
	SkipUnreadable bool
}

// Write writes root's entries (directories, regular files and symlinks,
// never followed) to w as a tar in WalkDir order, then closes the tar. A
// file that shrinks while it is read fails the write; ctx ends it.
func Write(ctx context.Context, w io.Writer, root string, o Options) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if o.SkipUnreadable && errors.Is(err, fs.ErrPermission) && p != root {
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
		return writeEntry(tw, p, filepath.ToSlash(rel), d, o)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// writeEntry writes one entry: its header and, for a regular file, its
// bytes.
func writeEntry(tw *tar.Writer, p, name string, d fs.DirEntry, o Options) error {
	var f *os.File
	if d.Type().IsRegular() {
		var err error
		if f, err = os.Open(p); o.SkipUnreadable && errors.Is(err, fs.ErrPermission) {
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
	hdr.Name = name
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
		return fmt.Errorf("%s shrank from %d to %d bytes while it was read", name, hdr.Size, n)
	}
	return nil
}
