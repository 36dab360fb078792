// Package parallel runs one function over many items with a bounded
// number of workers, stopping early when a call reports an error that
// concerns the whole run. It knows nothing of what the items are.
package parallel

import (
	"context"
	"fmt"
	"sync"
)

// ForEach calls fn for every item, at most workers at a time (at least 1).
// fn handles per-item outcomes itself; a non-nil error from fn means the
// run as a whole cannot go on: ForEach cancels the context fn receives,
// stops handing out items, waits for the calls in flight, and returns
// that error. It also stops when ctx is cancelled and then returns ctx's
// cause. Items never handed out are simply not called; callers that need
// to know can record which ones ran.
func ForEach[T any](ctx context.Context, items []T, workers int, fn func(ctx context.Context, i int, item T) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < max(workers, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := fn(ctx, i, items[i]); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for i := range items {
		if ctx.Err() != nil { // select picks at random when both are ready
			break
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	return context.Cause(ctx)
}

// MaxWorkers is the most workers a command or the configuration may ask
// for (--concurrency, sync.concurrency).
const MaxWorkers = 64

// CheckWorkers refuses a worker count outside 1 to MaxWorkers; the error
// names the value, the caller names its flag or key.
func CheckWorkers(n int) error {
	if n < 1 || n > MaxWorkers {
		return fmt.Errorf("%d: want 1 to %d", n, MaxWorkers)
	}
	return nil
}
