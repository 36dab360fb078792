package verify

import (
	"context"
	"io"
	"strings"
	"sync"

	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/store"
)

// recordReader counts what verify reads of archiver's record (objects
// under .archiver/: manifests, checkpoints, leaves, markers, claims), for
// the report's Bookkeeping.
type recordReader struct {
	store.Reader
	mu    sync.Mutex
	stats manifest.Stats
}

func isRecord(key string) bool { return strings.HasPrefix(key, ".archiver/") }

func (r *recordReader) count(requests int, bytes int64) {
	r.mu.Lock()
	r.stats.Requests += requests
	r.stats.BytesRead += bytes
	r.mu.Unlock()
}

func (r *recordReader) Stats() manifest.Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Head implements store.Reader.
func (r *recordReader) Head(ctx context.Context, key string) (store.Object, error) {
	if isRecord(key) {
		r.count(1, 0)
	}
	return r.Reader.Head(ctx, key)
}

// Get implements store.Reader.
func (r *recordReader) Get(ctx context.Context, key string) (io.ReadCloser, store.Object, error) {
	rc, obj, err := r.Reader.Get(ctx, key)
	if err != nil || !isRecord(key) {
		return rc, obj, err
	}
	r.count(1, 0)
	return &countedBody{ReadCloser: rc, r: r}, obj, nil
}

// List implements store.Reader (a listing of the record counts as one
// request per thousand keys, as S3 pages it).
func (r *recordReader) List(ctx context.Context, prefix string, fn func(store.Object) error) error {
	if !isRecord(prefix) {
		return r.Reader.List(ctx, prefix, fn)
	}
	n := 0
	err := r.Reader.List(ctx, prefix, func(o store.Object) error { n++; return fn(o) })
	r.count(1+n/1000, 0)
	return err
}

type countedBody struct {
	io.ReadCloser
	r *recordReader
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.r.count(0, int64(n))
	return n, err
}
