package store

import (
	"context"
	"io"

	"golang.org/x/time/rate"
)

// NewLimiter returns a token bucket for bytesPerSecond, or nil (no limit).
func NewLimiter(bytesPerSecond int64) *rate.Limiter {
	if bytesPerSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(bytesPerSecond), int(min(bytesPerSecond, 256<<10)))
}

// limitedBody paces reads of a request body with a shared limiter; Seek
// passes through so the SDK can rewind for retries.
type limitedBody struct {
	ctx context.Context
	rs  io.ReadSeeker
	l   *rate.Limiter
}

func limit(ctx context.Context, rs io.ReadSeeker, l *rate.Limiter) io.ReadSeeker {
	if l == nil {
		return rs
	}
	return &limitedBody{ctx: ctx, rs: rs, l: l}
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if len(p) > b.l.Burst() {
		p = p[:b.l.Burst()]
	}
	if err := b.l.WaitN(b.ctx, len(p)); err != nil {
		return 0, err
	}
	return b.rs.Read(p)
}

func (b *limitedBody) Seek(off int64, whence int) (int64, error) { return b.rs.Seek(off, whence) }
