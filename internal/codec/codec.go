// Package codec owns how archiver may transform object content on the way
// to the destination and back: today zstd or nothing. Encoders are fixed
// and deterministic (a resumed upload can reuse parts already sent);
// decoders are bounded in memory. It knows nothing of stores or X-Road.
package codec

import (
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Encodings recorded in object metadata and manifests.
const (
	None = ""
	Zstd = "zstd"
	// ZstdSuffix ends the key of every zstd-encoded object.
	ZstdSuffix = ".zst"
)

// encoderOptions are fixed so that compressing the same bytes twice gives
// the same output.
func encoderOptions() []zstd.EOption {
	return []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(1 << 20), zstd.WithEncoderCRC(true), zstd.WithLowerEncoderMem(true)}
}

var encoders = sync.Pool{New: func() any {
	e, err := zstd.NewWriter(nil, encoderOptions()...)
	if err != nil {
		panic(err) // only on invalid options, which are constants
	}
	return e
}}

// Compress copies src into w as one zstd frame and returns the bytes read.
func Compress(w io.Writer, src io.Reader) (int64, error) {
	enc := encoders.Get().(*zstd.Encoder)
	enc.Reset(w)
	defer func() { enc.Reset(nil); encoders.Put(enc) }()
	n, err := io.Copy(enc, src)
	if err != nil {
		return n, err
	}
	return n, enc.Close()
}

// Shrinks reports whether sample compresses to less than 90% of its size.
func Shrinks(sample []byte) bool {
	enc := encoders.Get().(*zstd.Encoder)
	defer encoders.Put(enc)
	out := enc.EncodeAll(sample, make([]byte, 0, len(sample)))
	return len(out) < len(sample)*9/10
}

// maxWindow bounds decoder memory; archiver's encoder uses 1 MiB windows.
const maxWindow = 64 << 20

// Decode returns a reader of the original bytes of an object stored with
// encoding. Closing it closes r.
func Decode(r io.ReadCloser, encoding string) (io.ReadCloser, error) {
	switch encoding {
	case None:
		return r, nil
	case Zstd:
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(maxWindow))
		if err != nil {
			r.Close()
			return nil, err
		}
		return decoder{d, r}, nil
	}
	r.Close()
	return nil, fmt.Errorf("unknown content encoding %q", encoding)
}

type decoder struct {
	d *zstd.Decoder
	c io.Closer
}

func (d decoder) Read(p []byte) (int, error) { return d.d.Read(p) }
func (d decoder) Close() error {
	d.d.Close()
	return d.c.Close()
}

// MaxCompressed bounds zstd output for size input bytes.
func MaxCompressed(size int64) int64 { return size + size/64 + 1<<16 }
