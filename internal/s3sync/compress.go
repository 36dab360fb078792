package s3sync

import (
	"fmt"
	"hash/crc32"
	"io"
	"strings"

	"github.com/xroad-archiver/archiver/internal/codec"
	"github.com/xroad-archiver/archiver/internal/xroad"
)

// Compression modes.
const (
	CompressNone = "none"
	CompressZstd = "zstd"
	CompressAuto = "auto"
)

// ParseCompress validates a --compress value.
func ParseCompress(s string) (string, error) {
	switch s {
	case CompressNone, CompressZstd, CompressAuto:
		return s, nil
	}
	return "", fmt.Errorf("compression %q: want auto, zstd or none", s)
}

// shouldCompress decides for one file. OpenPGP data (.gpg) never shrinks;
// for other files auto compresses a sample and keeps zstd only if it saves
// at least 10%.
func shouldCompress(mode string, kind xroad.Kind, rel string, r io.ReaderAt, size int64) bool {
	switch mode {
	case CompressZstd:
		return true
	case CompressNone:
		return false
	}
	if kind == xroad.KindEncryptedArchive || strings.HasSuffix(rel, ".gpg") || size < 4096 {
		return false
	}
	sample := make([]byte, min(size, 256<<10))
	n, _ := r.ReadAt(sample, 0)
	return codec.Shrinks(sample[:n])
}

// compressStream returns a reader of the zstd-compressed bytes of src (size
// bytes). The original is checksummed again while compressing; if its
// CRC32C is not wantCRC (computed in the same pass as the SHA-256) the
// stream fails with ErrChanged before its end, so no object is committed
// from bytes other than those hashed.
func compressStream(src io.ReaderAt, size int64, wantCRC uint32) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		h := crc32.New(castagnoli)
		_, err := codec.Compress(pw, io.TeeReader(io.NewSectionReader(src, 0, size), h))
		if err == nil && h.Sum32() != wantCRC {
			err = fmt.Errorf("%w: content differs between hashing and compressing", ErrChanged)
		}
		pw.CloseWithError(err)
	}()
	return pr
}
