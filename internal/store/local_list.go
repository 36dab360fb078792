package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/xroad-archiver/archiver/internal/extsort"
)

// List implements Store. It streams in key order with bounded memory:
// each directory's entries are sorted as their keys sort (a subdirectory
// as "name/", since all its keys share that prefix), through spill files
// once a directory holds more than extsort.DefaultLimit entries, and fn
// sees an object as soon as its turn comes. Only the directory the prefix
// names is walked (".archiver/manifests/" is one small directory beside a
// million archives).
func (l *Local) List(ctx context.Context, prefix string, fn func(Object) error) error {
	start := ""
	if dir := path.Dir(prefix + "x"); dir != "." && CheckKey(dir) == nil {
		start = dir
	}
	err := l.listDir(ctx, start, prefix, fn)
	if errors.Is(err, fs.ErrNotExist) && start != "" {
		if _, serr := os.Stat(filepath.Join(l.root, filepath.FromSlash(start))); errors.Is(serr, fs.ErrNotExist) {
			return ctx.Err() // nothing under the prefix
		}
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	return nil
}

// listDir lists the directory at rel ("" the root) and, in key order,
// the directories under it.
func (l *Local) listDir(ctx context.Context, rel, prefix string, fn func(Object) error) error {
	names, err := l.sortedNames(ctx, rel, prefix)
	if err != nil {
		return err
	}
	return names.Each(func(name string, dir bool) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		key := path.Join(rel, name)
		if dir {
			return l.listDir(ctx, strings.TrimSuffix(key, "/"), prefix, fn)
		}
		info, err := os.Lstat(filepath.Join(l.root, filepath.FromSlash(key)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed since the directory was read
		}
		if err != nil {
			return err
		}
		return fn(Object{Key: key, Size: info.Size(), LastModified: info.ModTime()})
	})
}

// sortedNames reads the directory at rel in batches and returns the
// entries that can hold keys under prefix, sorted by key (value: is a
// directory). The reserved directories at the root are left out.
func (l *Local) sortedNames(ctx context.Context, rel, prefix string) (*extsort.Sorter[bool], error) {
	f, err := os.Open(filepath.Join(l.root, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names := extsort.New[bool]("", 0)
	for {
		if err := ctx.Err(); err != nil {
			names.Close()
			return nil, err
		}
		ents, rerr := f.ReadDir(1024)
		for _, d := range ents {
			key := path.Join(rel, d.Name())
			switch {
			case d.IsDir():
				if rel == "" && (d.Name() == localTmpDir || d.Name() == localMetaDir) {
					continue
				}
				if !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
					continue // nothing under it can match
				}
				err = names.Add(d.Name()+"/", true)
			case d.Type().IsRegular() && strings.HasPrefix(key, prefix):
				err = names.Add(d.Name(), false)
			}
			if err != nil {
				names.Close()
				return nil, err
			}
		}
		if rerr == io.EOF {
			return names, nil
		}
		if rerr != nil {
			names.Close()
			return nil, rerr
		}
	}
}
