package s3sync

import (
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/xroad-archiver/archiver/internal/xroad"
)

// Compression modes.
const (
	CompressNone = "none"
	CompressZstd = "zstd"
	CompressAuto = "auto"
)

// Encoding names stored with compressed objects; their keys end in Suffix.
const (
	EncodingZstd = "zstd"
	ZstdSuffix   = ".zst"
)

// ParseCompress validates a --compress value.
func ParseCompress(s string) (string, error) {
	switch s {
	case CompressNone, CompressZstd, CompressAuto:
		return s, nil
	}
	return "", fmt.Errorf("compression %q: want auto, zstd or none", s)
}

// encoderOptions are fixed so that compressing the same file twice gives
// the same bytes: a resumed upload can then reuse the parts already sent.
func encoderOptions() []zstd.EOption {
	return []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(1 << 20), zstd.WithEncoderCRC(true), zstd.WithLowerEncoderMem(true)}
}

// encoders are reused: building a zstd encoder costs more than compressing
// a small archive. Reset gives identical output for identical input.
var encoders = sync.Pool{New: func() any {
	e, err := zstd.NewWriter(nil, encoderOptions()...)
	if err != nil {
		panic(err) // only on invalid options, which are constants
	}
	return e
}}

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
	enc := encoders.Get().(*zstd.Encoder)
	defer encoders.Put(enc)
	out := enc.EncodeAll(sample[:n], make([]byte, 0, n))
	return len(out) < n*9/10
}

// compressStream returns a reader of the zstd-compressed bytes of src (size
// bytes). The original is checksummed again while compressing; if its
// CRC32C is not wantCRC (computed in the same pass as the SHA-256) the
// stream fails with ErrChanged before its end, so no object is committed
// from bytes other than those hashed.
func compressStream(src io.ReaderAt, size int64, wantCRC uint32) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		enc := encoders.Get().(*zstd.Encoder)
		enc.Reset(pw)
		defer func() { enc.Reset(nil); encoders.Put(enc) }()
		h := crc32.New(castagnoli)
		_, err := io.Copy(enc, io.TeeReader(io.NewSectionReader(src, 0, size), h))
		if err == nil && h.Sum32() != wantCRC {
			err = fmt.Errorf("%w: content differs between hashing and compressing", ErrChanged)
		}
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(enc.Close())
	}()
	return pr
}

// maxCompressed bounds zstd output for size input bytes (for part sizing).
func maxCompressed(size int64) int64 { return size + size/64 + 1<<16 }
