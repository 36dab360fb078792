package schedule

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/lock"
	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

var errSome = outcome.Partial("some files")

func job(name string, err error, calls *[]string) Job {
	return Job{Name: name, Schedule: "@every 1s", Run: func(ctx context.Context, runID string) (any, error) {
		*calls = append(*calls, name)
		return map[string]string{"run": runID}, err
	}}
}

func TestRunnerOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		errs   []error
		only   []string
		status outcome.Status
		want   error
		calls  string
	}{
		{"all ok in order", []error{nil, nil}, nil, "ok", nil, "sync,snapshot"},
		{"one partial", []error{errSome, nil}, nil, "partial", ErrPartial, "sync,snapshot"},
		{"one failed", []error{nil, errors.New("boom")}, nil, "partial", ErrPartial, "sync,snapshot"},
		{"all failed", []error{errors.New("a"), errors.New("b")}, nil, "failed", ErrFailed, "sync,snapshot"},
		{"only snapshot", []error{nil, nil}, []string{"snapshot"}, "ok", nil, "snapshot"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls []string
			r := &Runner{Jobs: []Job{job("sync", tc.errs[0], &calls), job("snapshot", tc.errs[1], &calls)}}
			rep, err := r.Run(context.Background(), "run-1", tc.only)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) || rep.Status != tc.status || strings.Join(calls, ",") != tc.calls {
				t.Fatalf("status %s, err %v, calls %v; want %s, %v, %s", rep.Status, err, calls, tc.status, tc.want, tc.calls)
			}
		})
	}
}

func TestRunnerRefusesSecondaryAndLocked(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "local.ini"), []byte("[node]\ntype=slave\n"), 0o644)
	var calls []string
	r := &Runner{Jobs: []Job{job("sync", nil, &calls)}, Primary: func(context.Context) error { return CheckPrimary(dir, false) }}
	if _, err := r.Run(context.Background(), "r", nil); !errors.Is(err, ErrSecondary) || len(calls) != 0 {
		t.Fatalf("secondary: %v, calls %v", err, calls)
	}
	// A primary that cannot be confirmed fails every job that needs it
	// (reported, so metrics and events say so), and runs none.
	var after *Report
	unconfirmed := errors.New("no pod matches the primary selector")
	r = &Runner{Jobs: []Job{job("sync", nil, &calls), job("snapshot", nil, &calls)}, Primary: func(context.Context) error { return unconfirmed },
		After: func(_ context.Context, rep *Report) { after = rep }}
	if _, err := r.Run(context.Background(), "r", nil); !errors.Is(err, unconfirmed) || len(calls) != 0 || after == nil || len(after.Jobs) != 2 ||
		after.Jobs[0].Status != "failed" || !strings.Contains(after.Jobs[1].Error, "no pod matches") {
		t.Fatalf("unconfirmed primary: %v, calls %v, reported %+v", err, calls, after)
	}
	if err := CheckPrimary(dir, true); err != nil {
		t.Errorf("override: %v", err)
	}
	if err := CheckPrimary(t.TempDir(), false); err != nil {
		t.Errorf("standalone: %v", err)
	}
	p := filepath.Join(t.TempDir(), "lock")
	held, _ := lock.AcquireFile(p, "other")
	defer held.Release(context.Background())
	r = &Runner{Jobs: []Job{job("sync", nil, &calls)}, Acquire: func(ctx context.Context, id string) (lock.Lock, error) { return lock.AcquireFile(p, id) }}
	if _, err := r.Run(context.Background(), "r", nil); !errors.Is(err, lock.ErrLocked) || len(calls) != 0 {
		t.Fatalf("locked: %v, calls %v", err, calls)
	}
	// A restore test touches no X-Road volume: it runs on a secondary and
	// beside a sync holding the lock; with sync it does not.
	drill := job("restore-test", nil, &calls)
	drill.AnyNode = true
	r = &Runner{Jobs: []Job{job("sync", nil, &calls), drill}, Primary: func(context.Context) error { return CheckPrimary(dir, false) },
		Acquire: func(ctx context.Context, id string) (lock.Lock, error) { return lock.AcquireFile(p, id) }}
	if _, err := r.Run(context.Background(), "r", []string{"restore-test"}); err != nil || len(calls) != 1 || calls[0] != "restore-test" {
		t.Fatalf("restore test alone: %v, calls %v", err, calls)
	}
	if _, err := r.Run(context.Background(), "r", nil); !errors.Is(err, ErrSecondary) || len(calls) != 1 {
		t.Fatalf("with sync: %v, calls %v", err, calls)
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestServeSchedulesSkipsOverlapsAndShutsDown(t *testing.T) {
	var runs, overlaps atomic.Int32
	var inFlight atomic.Int32
	slow := Job{Name: "sync", Schedule: "@every 1s", Run: func(ctx context.Context, runID string) (any, error) {
		if inFlight.Add(1) > 1 {
			overlaps.Add(1)
		}
		defer inFlight.Add(-1)
		runs.Add(1)
		select { // longer than the interval: the next tick must be skipped
		case <-time.After(2500 * time.Millisecond):
		case <-ctx.Done():
		}
		return nil, nil
	}}
	addr := freeAddr(t)
	n := 0
	s := &Server{Runner: &Runner{Jobs: []Job{slow}, Log: nil}, Listen: addr, NewRunID: func() string { n++; return "r" }, Registry: prometheus.NewRegistry()}
	s.Runner.Log = discard()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	time.Sleep(4500 * time.Millisecond)
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + addr + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, resp, err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `archiver_job_runs_total{job="sync",status="skipped"}`) {
		t.Errorf("metrics lack skipped runs:\n%s", body)
	}
	start := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("shutdown took %v with a job running", el)
	}
	if overlaps.Load() != 0 || runs.Load() < 1 {
		t.Errorf("runs %d, overlapping runs %d", runs.Load(), overlaps.Load())
	}
}

// TestLostLeaseStopsTheRun holds a real Lease on the test kube-apiserver
// and hands it to someone else mid-run: the job's context ends, the next
// job does not start, and the run fails with lock.ErrLost.
func TestLostLeaseStopsTheRun(t *testing.T) {
	k := testenv.Kube(t)
	ns := k.Namespace(t)
	ctx := context.Background()
	stolen := make(chan struct{})
	var calls []string
	r := &Runner{
		Jobs: []Job{{Name: "sync", Run: func(ctx context.Context, runID string) (any, error) {
			calls = append(calls, "sync")
			leases := k.Client.CoordinationV1().Leases(ns)
			cur, err := leases.Get(ctx, "archiver", metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			other := "another-pod/run"
			cur.Spec.HolderIdentity = &other
			if _, err := leases.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
				return nil, err
			}
			close(stolen)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(20 * time.Second):
				return nil, errors.New("still running 20s after the lease was taken")
			}
		}}, job("snapshot", nil, &calls)},
		Acquire: func(ctx context.Context, id string) (lock.Lock, error) {
			return lock.AcquireLease(ctx, k.Client, lock.LeaseOptions{Namespace: ns, Name: "archiver", Holder: id, Duration: 3 * time.Second})
		},
	}
	rep, err := r.Run(ctx, "run-1", nil)
	<-stolen
	if !errors.Is(err, lock.ErrLost) || !strings.Contains(err.Error(), "another-pod/run") {
		t.Fatalf("Run = %v", err)
	}
	if len(calls) != 1 || len(rep.Jobs) != 2 || rep.Jobs[0].Status != "failed" || rep.Jobs[1].Status != "skipped" ||
		!strings.Contains(rep.Jobs[1].Error, "run lock lost") || rep.Status == "ok" {
		t.Fatalf("calls %v, report %+v", calls, rep)
	}
}

// TestReleaseLockLetsOthersRunAndLaterJobsTakeItBack: a job that gives
// the lock up early (a snapshot waiting on AWS) lets another run take it
// while it still runs; a later job of the same run that needs the volume
// takes it again.
func TestReleaseLockLetsOthersRunAndLaterJobsTakeItBack(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	acquire := func(ctx context.Context, id string) (lock.Lock, error) { return lock.AcquireFile(p, id) }
	var order []string
	other := func(what string) {
		l, err := lock.AcquireFile(p, "other")
		if err != nil {
			order = append(order, what+": locked")
			return
		}
		l.Release(context.Background())
		order = append(order, what+": free")
	}
	r := &Runner{Acquire: acquire, Jobs: []Job{
		{Name: "snapshot", Run: func(ctx context.Context, _ string) (any, error) {
			other("before release")
			ReleaseLock(ctx)
			other("after release")
			return nil, nil
		}},
		{Name: "sync", Run: func(ctx context.Context, _ string) (any, error) {
			other("next job")
			return nil, nil
		}},
	}}
	if _, err := r.Run(context.Background(), "r", nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ", "); got != "before release: locked, after release: free, next job: locked" {
		t.Fatalf("got %s", got)
	}
	other("after the run")
	if order[len(order)-1] != "after the run: free" {
		t.Fatalf("lock kept after the run: %v", order)
	}
}
