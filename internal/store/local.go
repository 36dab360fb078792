package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Reserved directories of a local store; they are never listed.
const (
	localTmpDir  = ".archiver-tmp"
	localMetaDir = ".archiver-meta"
)

// Local is a Store in a local directory with the same key layout as S3.
// Objects are written to a temporary file, synced, and linked into place,
// so a crash never leaves a partial object visible. Metadata lives in a
// sidecar JSON file under .archiver-meta/.
type Local struct {
	root     string
	now      func() time.Time
	readOnly bool
}

type localMeta struct {
	Meta   Meta   `json:"meta"`
	CRC32C string `json:"crc32c"`
}

// NewLocal returns a store rooted at dir, creating dir if needed.
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{abs, filepath.Join(abs, localTmpDir), filepath.Join(abs, localMetaDir)} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("create destination %s: %w", d, err)
		}
	}
	return &Local{root: abs, now: time.Now}, nil
}

// OpenLocal opens an existing store at dir for reading: it creates
// nothing, and a missing dir is an error that names it.
func OpenLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	l := &Local{root: abs, now: time.Now, readOnly: true}
	if err := l.Check(context.Background()); err != nil {
		return nil, err
	}
	return l, nil
}

// URL implements Store.
func (l *Local) URL() string { return "file://" + filepath.ToSlash(l.root) }

func (l *Local) path(key string) string { return filepath.Join(l.root, filepath.FromSlash(key)) }
func (l *Local) metaPath(key string) string {
	dir, base := path.Split(key)
	name := base + ".json"
	if len(name)+len(".tmp") > maxNameLen {
		// An X-Road archive name can use all 255 bytes a file name may
		// have (a 200-character group): its sidecar gets a shorter name.
		sum := sha256.Sum256([]byte(base))
		name = strings.ToValidUTF8(base[:180], "") + "~" + hex.EncodeToString(sum[:8]) + ".json"
	}
	return filepath.Join(l.root, localMetaDir, filepath.FromSlash(dir), name)
}

// CheckEncryption implements Store: a local directory has no server-side
// encryption, so there is nothing to check.
func (l *Local) CheckEncryption(Object) error { return nil }

// maxNameLen is the longest file name Linux file systems take (NAME_MAX).
const maxNameLen = 255

// Check implements Store.
func (l *Local) Check(ctx context.Context) error {
	st, err := os.Stat(l.root)
	if err != nil {
		return fmt.Errorf("check destination: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("check destination: %s is not a directory", l.root)
	}
	return nil
}

// Put implements Store.
func (l *Local) Put(ctx context.Context, key string, p Payload, m Meta) (Object, error) {
	if l.readOnly {
		return Object{}, fmt.Errorf("put %s: store opened read-only", key)
	}
	if err := CheckKey(key); err != nil {
		return Object{}, err
	}
	if strings.HasPrefix(key, localTmpDir) || strings.HasPrefix(key, localMetaDir) {
		return Object{}, fmt.Errorf("invalid object key %q: reserved", key)
	}
	final := l.path(key)
	if _, err := os.Lstat(final); err == nil {
		return Object{}, fmt.Errorf("put %s: %w", key, ErrExists)
	}
	tmp, err := os.CreateTemp(filepath.Join(l.root, localTmpDir), "put-*")
	if err != nil {
		return Object{}, fmt.Errorf("put %s: %w", key, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	var src io.Reader = p.Stream
	if p.At != nil {
		src = io.NewSectionReader(p.At, 0, p.Size)
	}
	h := crc32.New(castagnoli)
	n, err := io.Copy(io.MultiWriter(tmp, h), readerCtx{ctx, src})
	if err != nil {
		return Object{}, fmt.Errorf("put %s: %w", key, err)
	}
	if p.At != nil && (n != p.Size || h.Sum32() != p.CRC32C) {
		return Object{}, fmt.Errorf("put %s: %w", key, ErrChanged)
	}
	if err := tmp.Sync(); err != nil {
		return Object{}, fmt.Errorf("put %s: %w", key, err)
	}
	if p.BeforeCommit != nil {
		if err := p.BeforeCommit(); err != nil {
			return Object{}, err
		}
	}
	lm := localMeta{Meta: m, CRC32C: crcB64(h.Sum32())}
	if err := l.writeMeta(key, lm); err != nil {
		return Object{}, fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return Object{}, fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Link(tmp.Name(), final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Object{}, fmt.Errorf("put %s: %w", key, ErrExists)
		}
		return Object{}, fmt.Errorf("put %s: %w", key, err)
	}
	syncDir(filepath.Dir(final))
	return Object{Key: key, Size: n, Meta: m, CRC32C: lm.CRC32C, LastModified: l.now()}, nil
}

func (l *Local) writeMeta(key string, lm localMeta) error {
	mp := l.metaPath(key)
	if err := os.MkdirAll(filepath.Dir(mp), 0o750); err != nil {
		return err
	}
	b, err := json.Marshal(lm)
	if err != nil {
		return err
	}
	// A temporary name of its own: two writers of one key at once (two
	// runs claiming one sequence number) must not trip over each other's
	// temporary file; the object's link decides which of them wins.
	f, err := os.CreateTemp(filepath.Dir(mp), ".meta-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), mp)
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// HeadIsCheap reports that looking at one key (one lstat) costs less than
// any listing, which reads a whole directory: a caller that could list
// instead of looking key by key should look.
func (l *Local) HeadIsCheap() bool { return true }

// Head implements Store.
func (l *Local) Head(ctx context.Context, key string) (Object, error) {
	if err := CheckKey(key); err != nil {
		return Object{}, err
	}
	st, err := os.Lstat(l.path(key))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Object{}, fmt.Errorf("head %s: %w", key, ErrNotFound)
		}
		return Object{}, fmt.Errorf("head %s: %w", key, err)
	}
	if !st.Mode().IsRegular() {
		return Object{}, fmt.Errorf("head %s: not a regular file", key)
	}
	o := Object{Key: key, Size: st.Size(), LastModified: st.ModTime()}
	if b, err := os.ReadFile(l.metaPath(key)); err == nil {
		var lm localMeta
		if json.Unmarshal(b, &lm) == nil {
			o.Meta, o.CRC32C = lm.Meta, lm.CRC32C
		}
	}
	return o, nil
}

// Get implements Store.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	o, err := l.Head(ctx, key)
	if err != nil {
		return nil, o, err
	}
	f, err := os.Open(l.path(key))
	if err != nil {
		return nil, o, fmt.Errorf("get %s: %w", key, err)
	}
	return f, o, nil
}

// AbortIncomplete implements Store: it removes temporary files left by
// interrupted writes (their keys are unknown, so keep is not consulted).
func (l *Local) AbortIncomplete(ctx context.Context, prefix string, keep func(string) bool) (int, error) {
	if l.readOnly {
		return 0, nil // nothing of ours to clean up in a store opened to read
	}
	ents, err := os.ReadDir(filepath.Join(l.root, localTmpDir))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if err := os.Remove(filepath.Join(l.root, localTmpDir, e.Name())); err == nil {
			n++
		}
	}
	return n, nil
}

// Delete implements Store.
func (l *Local) Delete(ctx context.Context, key string) error {
	if l.readOnly {
		return fmt.Errorf("delete %s: store opened read-only", key)
	}
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := os.Remove(l.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	os.Remove(l.metaPath(key))
	return nil
}

// readerCtx stops a copy when ctx is cancelled.
type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
