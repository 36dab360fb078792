package snapshot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Waiting is how long and how often to poll for completion.
type Waiting struct {
	Timeout time.Duration // total; default 2h
	MinPoll time.Duration // first interval; default 5s
	MaxPoll time.Duration // backoff cap; default 1m
}

func (w Waiting) withDefaults() Waiting {
	if w.Timeout <= 0 {
		w.Timeout = DefaultTimeout
	}
	if w.MinPoll <= 0 {
		w.MinPoll = 5 * time.Second
	}
	if w.MaxPoll < w.MinPoll {
		w.MaxPoll = max(w.MinPoll, time.Minute)
	}
	return w
}

// DefaultTimeout is how long a snapshot or backup job is waited for.
const DefaultTimeout = 2 * time.Hour

// ErrTimeout means a backup did not finish within the waiting time.
var ErrTimeout = errors.New("timed out waiting")

// errDone stops a poll loop successfully.
var errDone = errors.New("done")

// poll calls check with exponential backoff until it returns errDone (nil
// result), another error, or the timeout passes. check returns a short
// status for the timeout message.
func poll(ctx context.Context, w Waiting, what string, check func(context.Context) (string, error)) error {
	w = w.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	delay := w.MinPoll
	status := ""
	for {
		s, err := check(ctx)
		if errors.Is(err, errDone) {
			return nil
		}
		if err != nil {
			if ctx.Err() == context.DeadlineExceeded {
				break
			}
			return err
		}
		status = s
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
		delay = min(delay*2, w.MaxPoll)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w after %s (last state: %s)", what, ErrTimeout, w.Timeout, status)
	}
	return ctx.Err()
}
