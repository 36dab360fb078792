package s3sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/xroad-archiver/archiver/internal/store"
)

// ErrChanged means a source file changed while it was being shipped; it is
// retried by the next run.
var ErrChanged = store.ErrChanged

// openSource opens a source file without following symlinks and checks it
// is a regular file.
func openSource(path string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	}
	return f, st, nil
}

// sameFile reports whether a later stat shows the content unchanged.
func sameFile(a, b os.FileInfo) bool {
	return a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// unchanged returns an error if f no longer matches st.
func unchanged(f *os.File, st os.FileInfo) error {
	now, err := f.Stat()
	if err != nil {
		return err
	}
	if !sameFile(st, now) {
		return fmt.Errorf("%w: size %d -> %d, mtime %s -> %s", ErrChanged, st.Size(), now.Size(),
			st.ModTime().Format(time.RFC3339Nano), now.ModTime().Format(time.RFC3339Nano))
	}
	return nil
}

// digest is what one read of a file yields.
type digest struct {
	SHA256 string
	CRC32C uint32
	Size   int64
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var hashBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// hashFile reads f once from the start and computes its SHA-256 and CRC32C.
func hashFile(ctx context.Context, f io.ReaderAt, size int64) (digest, error) {
	sh := sha256.New()
	cr := crc32.New(castagnoli)
	bp := hashBufs.Get().(*[]byte)
	defer hashBufs.Put(bp)
	buf := *bp
	var off int64
	for off < size {
		if err := ctx.Err(); err != nil {
			return digest{}, err
		}
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		sh.Write(buf[:n])
		cr.Write(buf[:n])
		off += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return digest{}, err
		}
	}
	if off != size {
		return digest{}, fmt.Errorf("%w: read %d of %d bytes", ErrChanged, off, size)
	}
	// A file that grew is caught by the stat check; make sure nothing follows.
	var one [1]byte
	if n, _ := f.ReadAt(one[:], size); n > 0 {
		return digest{}, fmt.Errorf("%w: file grew while reading", ErrChanged)
	}
	return digest{SHA256: hex.EncodeToString(sh.Sum(nil)), CRC32C: cr.Sum32(), Size: size}, nil
}
