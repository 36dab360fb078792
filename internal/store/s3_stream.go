package store

import (
	"bytes"
	"context"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

func (s *S3) getBuf(n int64) *[]byte {
	select {
	case b := <-s.bufs:
		if int64(cap(*b)) >= n {
			*b = (*b)[:n]
			return b
		}
	default:
	}
	b := make([]byte, n)
	return &b
}

func (s *S3) putBuf(b *[]byte) {
	if int64(cap(*b)) < s.o.PartSize {
		return // a small first-part buffer: let the GC have it
	}
	select {
	case s.bufs <- b:
	default:
	}
}

// putStream uploads a sequential stream: the first part decides between a
// single PUT and a multipart upload; at most Concurrency part buffers exist.
func (s *S3) putStream(ctx context.Context, key string, p Payload, m Meta) (Object, error) {
	r := &partReader{s: s, ctx: ctx, key: key, stream: p.Stream, size: p.Size, ps: s.PartSizeFor(p.Size), first: true, crc: crc32.New(castagnoli)}
	first, err := r.next()
	switch {
	case err == io.EOF: // fits in one part: single PUT
		return s.putStreamSingle(ctx, key, p, m, first, r.crc.Sum32())
	case err != nil:
		return Object{}, err
	case int64(first.n) < r.ps: // a short first buffer filled up
		first.free()
		return Object{}, fmt.Errorf("%s: stream longer than its declared bound of %d bytes: %w", key, p.Size, ErrChanged)
	}
	return s.putStreamMultipart(ctx, key, p, m, r, first)
}

// streamPart is one part of a stream, read into a pooled buffer while
// holding a request slot; free gives both back.
type streamPart struct {
	s   *S3
	buf *[]byte
	n   int
}

func (p streamPart) data() []byte { return (*p.buf)[:p.n] }

func (p streamPart) free() {
	p.s.putBuf(p.buf)
	p.s.release()
}

// partReader cuts a stream into parts, hashing everything it reads.
type partReader struct {
	s      *S3
	ctx    context.Context
	key    string
	stream io.Reader
	size   int64 // the declared upper bound
	ps     int64 // part size
	first  bool
	crc    hash.Hash32
	total  int64
}

// next reads the next part. io.EOF comes with the last part (possibly
// empty); on any other error nothing is held.
func (r *partReader) next() (streamPart, error) {
	if err := r.s.acquire(r.ctx); err != nil {
		return streamPart{}, err
	}
	want := r.ps
	if r.first && r.size+1 < r.ps {
		// Most streams are small: do not take a whole part buffer (one
		// spare byte tells a full buffer from the end).
		want = r.size + 1
	}
	r.first = false
	p := streamPart{s: r.s, buf: r.s.getBuf(want)}
	var err error
	p.n, err = io.ReadFull(r.stream, *p.buf)
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		err = io.EOF
	case err != nil:
		p.free()
		return streamPart{}, fmt.Errorf("read %s: %w", r.key, err)
	}
	r.crc.Write(p.data())
	r.total += int64(p.n)
	return p, err
}

// putStreamSingle stores a stream that fitted in its first part with one
// PUT (which takes a request slot of its own).
func (s *S3) putStreamSingle(ctx context.Context, key string, p Payload, m Meta, part streamPart, crc uint32) (Object, error) {
	s.release()
	defer s.putBuf(part.buf)
	if p.BeforeCommit != nil {
		if err := p.BeforeCommit(); err != nil {
			return Object{}, err
		}
	}
	return s.putSingle(ctx, key, bytes.NewReader(part.data()), int64(part.n), crc, "", m)
}

// putStreamMultipart uploads cur and the rest of r's parts concurrently
// into a new (or resumed) multipart upload, then completes it.
func (s *S3) putStreamMultipart(ctx context.Context, key string, p Payload, m Meta, r *partReader, cur streamPart) (Object, error) {
	up, resumed, err := s.startOrResume(ctx, key, p, m, true)
	if err != nil {
		cur.free()
		return Object{}, err
	}
	var parts []types.CompletedPart
	var mu sync.Mutex
	var reusedBytes int64
	send := func(ctx context.Context, num int32, part streamPart) error {
		crc := crc32.Checksum(part.data(), castagnoli)
		if cp, ok := reusable(up, num, int64(part.n), crc); ok {
			mu.Lock()
			parts = append(parts, cp)
			reusedBytes += int64(part.n)
			mu.Unlock()
			return nil
		}
		cp, err := s.uploadPart(ctx, key, up.id, num, bytes.NewReader(part.data()), int64(part.n), crc)
		mu.Lock()
		parts = append(parts, cp)
		mu.Unlock()
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	last := false
	for num := int32(1); ; num++ {
		if num > MaxParts {
			cur.free()
			g.Wait()
			return Object{}, s.failed(ctx, key, up.id, fmt.Errorf("%s: stream longer than %d parts of %d bytes: %w", key, MaxParts, r.ps, ErrChanged))
		}
		part, partNum := cur, num
		g.Go(func() error {
			defer part.free()
			return send(gctx, partNum, part)
		})
		if last {
			break
		}
		cur, err = r.next()
		if err != nil && err != io.EOF {
			g.Wait()
			return Object{}, s.failed(ctx, key, up.id, err)
		}
		last = err == io.EOF
		if last && cur.n == 0 || gctx.Err() != nil {
			cur.free()
			break
		}
	}
	if err := g.Wait(); err != nil {
		return Object{}, s.failed(ctx, key, up.id, err)
	}
	if err := ctx.Err(); err != nil {
		return Object{}, s.failed(ctx, key, up.id, err)
	}
	if p.BeforeCommit != nil {
		if err := p.BeforeCommit(); err != nil {
			s.abort(key, up.id)
			return Object{}, err
		}
	}
	obj, err := s.complete(ctx, key, up.id, parts, r.crc.Sum32(), r.total, m)
	obj.Resumed, obj.ResumedBytes = resumed && reusedBytes > 0, reusedBytes
	return obj, err
}
