package store

import (
	"bytes"
	"context"
	"fmt"
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
	ps := s.PartSizeFor(p.Size)
	full := crc32.New(castagnoli)
	var total int64
	first := true
	read := func() (*[]byte, int, error) {
		if err := s.acquire(ctx); err != nil {
			return nil, 0, err
		}
		want := ps
		if first && p.Size+1 < ps {
			// Most streams are small: do not take a whole part buffer
			// (one spare byte tells a full buffer from the end).
			want = p.Size + 1
		}
		first = false
		b := s.getBuf(want)
		n, err := io.ReadFull(p.Stream, *b)
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			err = io.EOF
		}
		if err != nil && err != io.EOF {
			s.putBuf(b)
			s.release()
			return nil, 0, fmt.Errorf("read %s: %w", key, err)
		}
		full.Write((*b)[:n])
		total += int64(n)
		return b, n, err
	}
	b, n, rerr := read()
	if rerr != nil && rerr != io.EOF {
		return Object{}, rerr
	}
	if rerr == nil && int64(n) < ps {
		s.release()
		return Object{}, fmt.Errorf("%s: stream longer than its declared bound of %d bytes: %w", key, p.Size, ErrChanged)
	}
	if rerr == io.EOF { // fits in one part: single PUT
		s.release()
		defer s.putBuf(b)
		if p.BeforeCommit != nil {
			if err := p.BeforeCommit(); err != nil {
				return Object{}, err
			}
		}
		return s.putSingle(ctx, key, bytes.NewReader((*b)[:n]), int64(n), full.Sum32(), "", m)
	}
	up, resumed, err := s.startOrResume(ctx, key, p, m)
	if err != nil {
		s.putBuf(b)
		s.release()
		return Object{}, err
	}
	var parts []types.CompletedPart
	var mu sync.Mutex
	var reusedBytes int64
	g, gctx := errgroup.WithContext(ctx)
	for num := int32(1); ; num++ {
		if num > MaxParts {
			s.putBuf(b)
			s.release()
			g.Wait()
			return Object{}, s.failed(ctx, key, up.id, fmt.Errorf("%s: stream longer than %d parts of %d bytes: %w", key, MaxParts, ps, ErrChanged))
		}
		buf, size, partNum := b, n, num
		crc := crc32.Checksum((*buf)[:size], castagnoli)
		g.Go(func() error {
			defer s.release()
			defer s.putBuf(buf)
			if cp, ok := reusable(up, partNum, int64(size), crc); ok {
				mu.Lock()
				parts = append(parts, cp)
				reusedBytes += int64(size)
				mu.Unlock()
				return nil
			}
			cp, err := s.uploadPart(gctx, key, up.id, partNum, bytes.NewReader((*buf)[:size]), int64(size), crc)
			mu.Lock()
			parts = append(parts, cp)
			mu.Unlock()
			return err
		})
		if rerr == io.EOF {
			break
		}
		b, n, rerr = read()
		if rerr != nil && rerr != io.EOF {
			g.Wait()
			return Object{}, s.failed(ctx, key, up.id, rerr)
		}
		if rerr == io.EOF && n == 0 {
			s.putBuf(b)
			s.release()
			break
		}
		if gctx.Err() != nil {
			s.putBuf(b)
			s.release()
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
	obj, err := s.complete(ctx, key, up.id, parts, full.Sum32(), total, m)
	obj.Resumed, obj.ResumedBytes = resumed && reusedBytes > 0, reusedBytes
	return obj, err
}
