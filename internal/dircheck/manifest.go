package dircheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/xroad-archiver/archiver/internal/codec"
	"github.com/xroad-archiver/archiver/internal/content"
)

// zstdMagic starts every zstd frame.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// EncodeManifest is the form a content manifest travels to the verifier
// pod in (a ConfigMap's binaryData, at most 1 MiB): zstd-compressed JSON.
func EncodeManifest(m *content.Manifest) ([]byte, error) {
	js, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if _, err := codec.Compress(&out, bytes.NewReader(js)); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// DecodeManifest reads a content manifest, plain or zstd-compressed JSON.
func DecodeManifest(r io.Reader) (*content.Manifest, error) {
	b, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return nil, err
	}
	rc := io.NopCloser(bytes.NewReader(b))
	if bytes.HasPrefix(b, zstdMagic) {
		if rc, err = codec.Decode(rc, codec.Zstd); err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
		defer rc.Close()
	}
	var m content.Manifest
	dec := json.NewDecoder(rc)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest is not a content manifest: %w", err)
	}
	if m.Version != 1 {
		return nil, fmt.Errorf("manifest version %d: this archiver reads version 1", m.Version)
	}
	return &m, nil
}

// LoadManifest reads a content manifest file.
func LoadManifest(p string) (*content.Manifest, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := DecodeManifest(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return m, nil
}
