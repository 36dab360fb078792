// Package manifest owns archiver's record of what was archived: one JSON
// manifest per run that changed something, written under the reserved
// .archiver/manifests/ prefix after all of the run's data, holding every
// entry archived so far (so one manifest is the complete state as of its
// run) and chained to its predecessor by SHA-256.
//
// The manifest, not the bucket listing, is the source of truth: a run whose
// manifest was not committed did not happen. The package reads and writes
// manifests through a store.Store and never talks to AWS directly.
package manifest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"strings"
	"time"

	"github.com/xroad-archiver/archiver/internal/store"
)

// Prefix is the reserved key prefix for manifests.
const Prefix = ".archiver/manifests/"

// Version is the manifest format version this package writes.
const Version = 1

// maxManifest bounds what Decode reads (about two million entries).
const maxManifest = 1 << 30

// Manifest is the state of the destination as of one run.
type Manifest struct {
	Version  int       `json:"version"`
	RunID    string    `json:"run_id"`
	Created  time.Time `json:"created"`
	Source   string    `json:"source,omitempty"`
	Host     string    `json:"host,omitempty"`
	Previous *Ref      `json:"previous,omitempty"`
	Entries  []Entry   `json:"entries"`
}

// Ref points at another manifest and pins its content.
type Ref struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
}

// Entry is one archived object.
type Entry struct {
	Path       string    `json:"path"` // source-relative slash path
	Key        string    `json:"key"`  // object key relative to the destination root
	Kind       string    `json:"kind"` // archive, encrypted-archive, backup
	Size       int64     `json:"size"` // original bytes
	MTime      time.Time `json:"mtime"`
	SHA256     string    `json:"sha256"` // of the original bytes
	Encoding   string    `json:"encoding,omitempty"`
	StoredSize int64     `json:"stored_size"`
	RunID      string    `json:"run_id"`
	KMSKeyID   string    `json:"kms_key_id,omitempty"`
}

// Key returns the object key of the manifest of runID.
func Key(runID string) string { return Prefix + runID + ".json" }

// ErrInvalid marks a manifest that does not decode or validate.
var ErrInvalid = errors.New("invalid manifest")

// Decode reads and validates a manifest.
func Decode(r io.Reader) (*Manifest, error) {
	dec := json.NewDecoder(io.LimitReader(r, maxManifest))
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks the manifest's own consistency. It never trusts keys or
// paths: both must be clean relative paths.
func (m *Manifest) Validate() error {
	if m.Version != Version {
		return fmt.Errorf("%w: version %d, this archiver reads %d", ErrInvalid, m.Version, Version)
	}
	if m.RunID == "" || strings.ContainsAny(m.RunID, "/\\") {
		return fmt.Errorf("%w: bad run id %q", ErrInvalid, m.RunID)
	}
	for i, e := range m.Entries {
		if err := store.CheckKey(e.Key); err != nil {
			return fmt.Errorf("%w: entry %d: %v", ErrInvalid, i, err)
		}
		if err := store.CheckKey(e.Path); err != nil {
			return fmt.Errorf("%w: entry %d: path: %v", ErrInvalid, i, err)
		}
		if len(e.SHA256) != 64 || strings.Trim(e.SHA256, "0123456789abcdef") != "" {
			return fmt.Errorf("%w: entry %d (%s): bad sha256", ErrInvalid, i, e.Path)
		}
		if e.Size < 0 || e.StoredSize < 0 {
			return fmt.Errorf("%w: entry %d (%s): negative size", ErrInvalid, i, e.Path)
		}
	}
	return nil
}

// Encode renders the manifest as indented JSON.
func (m *Manifest) Encode() ([]byte, error) {
	return json.MarshalIndent(m, "", " ")
}

// Latest returns the most recent manifest in s, or nil if there is none.
func Latest(ctx context.Context, s store.Store) (*Manifest, *Ref, error) {
	keys, err := List(ctx, s)
	if err != nil || len(keys) == 0 {
		return nil, nil, err
	}
	return Load(ctx, s, keys[len(keys)-1])
}

// List returns the manifest keys in s, oldest first (run ids sort by time).
func List(ctx context.Context, s store.Store) ([]string, error) {
	var keys []string
	err := s.List(ctx, Prefix, func(o store.Object) error {
		if path.Dir(o.Key)+"/" == Prefix && strings.HasSuffix(o.Key, ".json") {
			keys = append(keys, o.Key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list manifests: %w", err)
	}
	return keys, nil
}

// Load reads the manifest at key and returns it with a Ref pinning it.
func Load(ctx context.Context, s store.Store, key string) (*Manifest, *Ref, error) {
	rc, _, err := s.Get(ctx, key)
	if err != nil {
		return nil, nil, fmt.Errorf("read manifest: %w", err)
	}
	defer rc.Close()
	h := sha256.New()
	m, err := Decode(io.TeeReader(rc, h))
	if err != nil {
		return nil, nil, fmt.Errorf("manifest %s: %w", key, err)
	}
	io.Copy(h, rc)
	return m, &Ref{Key: key, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Commit writes m to s (never overwriting) and returns its Ref.
func Commit(ctx context.Context, s store.Store, m *Manifest) (*Ref, error) {
	b, err := m.Encode()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	hexSum := hex.EncodeToString(sum[:])
	key := Key(m.RunID)
	_, err = s.Put(ctx, key, store.Payload{At: bytes.NewReader(b), Size: int64(len(b)),
		CRC32C: crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)), SHA256: hexSum},
		store.Meta{SHA256: hexSum, Size: int64(len(b)), MTime: m.Created, Path: key, RunID: m.RunID})
	if err != nil {
		return nil, fmt.Errorf("commit manifest %s: %w", key, err)
	}
	return &Ref{Key: key, SHA256: hexSum}, nil
}

// Index answers "what is archived" from a manifest's entries.
type Index struct {
	byPath map[string][]Entry // versions in archiving order
	byKey  map[string]Entry
}

// NewIndex indexes entries.
func NewIndex(entries []Entry) *Index {
	ix := &Index{byPath: map[string][]Entry{}, byKey: map[string]Entry{}}
	for _, e := range entries {
		ix.Add(e)
	}
	return ix
}

// Add records an entry.
func (ix *Index) Add(e Entry) {
	ix.byPath[e.Path] = append(ix.byPath[e.Path], e)
	ix.byKey[e.Key] = e
}

// Latest returns the newest entry for a source path.
func (ix *Index) Latest(p string) (Entry, bool) {
	v := ix.byPath[p]
	if len(v) == 0 {
		return Entry{}, false
	}
	return v[len(v)-1], true
}

// Versions returns every entry for a source path, oldest first.
func (ix *Index) Versions(p string) []Entry { return ix.byPath[p] }

// ByKey returns the entry stored at an object key.
func (ix *Index) ByKey(k string) (Entry, bool) { e, ok := ix.byKey[k]; return e, ok }

// WithSHA returns the entry for path whose content has the given SHA-256.
func (ix *Index) WithSHA(p, sha string) (Entry, bool) {
	for _, e := range ix.byPath[p] {
		if e.SHA256 == sha {
			return e, true
		}
	}
	return Entry{}, false
}
