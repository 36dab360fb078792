package parallel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestForEachRunsEveryItemWithBoundedWorkers(t *testing.T) {
	var inFlight, peak atomic.Int32
	var mu sync.Mutex
	seen := map[int]bool{}
	items := make([]int, 50)
	err := ForEach(context.Background(), items, 3, func(ctx context.Context, i int, _ int) error {
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(time.Millisecond)
		inFlight.Add(-1)
		mu.Lock()
		seen[i] = true
		mu.Unlock()
		return nil
	})
	if err != nil || len(seen) != 50 || peak.Load() > 3 {
		t.Fatalf("err %v, ran %d of 50, peak %d workers (max 3)", err, len(seen), peak.Load())
	}
}

func TestForEachStopsOnAnError(t *testing.T) {
	boom := errors.New("bucket gone")
	var ran atomic.Int32
	err := ForEach(context.Background(), make([]int, 1000), 2, func(ctx context.Context, i int, _ int) error {
		ran.Add(1)
		if i == 5 {
			return boom
		}
		<-time.After(time.Millisecond)
		return nil
	})
	if !errors.Is(err, boom) || ran.Load() > 20 {
		t.Fatalf("err %v after %d calls; want the error and an early stop", err, ran.Load())
	}
}

func TestForEachStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var ran, after atomic.Int32
	var cancelled atomic.Bool
	err := ForEach(ctx, make([]int, 1000), 2, func(ctx context.Context, i int, _ int) error {
		if cancelled.Load() {
			after.Add(1)
		}
		if ran.Add(1) == 3 {
			cancel()
			cancelled.Store(true)
		}
		return nil
	})
	// The other worker may run on until cancel returns (scheduling); once
	// it has, at most one item already being handed over may still start.
	if !errors.Is(err, context.Canceled) || after.Load() > 1 {
		t.Fatalf("err %v after %d calls, %d after the cancel", err, ran.Load(), after.Load())
	}
}

func TestCheckWorkers(t *testing.T) {
	for _, tc := range []struct {
		n  int
		ok bool
	}{{-1, false}, {0, false}, {1, true}, {8, true}, {MaxWorkers, true}, {MaxWorkers + 1, false}} {
		err := CheckWorkers(tc.n)
		if (err == nil) != tc.ok {
			t.Errorf("CheckWorkers(%d) = %v, want ok %v", tc.n, err, tc.ok)
		}
		if err != nil && err.Error() != fmt.Sprintf("%d: want 1 to 64", tc.n) {
			t.Errorf("CheckWorkers(%d) = %q, want the value and the range", tc.n, err)
		}
	}
}
