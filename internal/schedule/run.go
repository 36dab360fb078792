package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/xroad-archiver/archiver/internal/lock"
	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/xroad"
)

// Job is one kind of work (sync, snapshot, ...).
type Job struct {
	Name     string
	Schedule string // cron spec, for serve
	// Run does the work. Its result is reported as is (JSON); an error of
	// class outcome.ErrPartial means "finished with some failures".
	Run func(ctx context.Context, runID string) (any, error)
	// AnyNode jobs do not touch the X-Road volume (restore tests): a run
	// of only such jobs needs neither the primary node nor the run lock.
	AnyNode bool
}

// JobReport is one job's outcome.
type JobReport struct {
	Name        string         `json:"name"`
	Status      outcome.Status `json:"status"` // ok, partial, failed, skipped
	Error       string         `json:"error,omitempty"`
	DurationSec float64        `json:"duration_seconds"`
	Result      any            `json:"result,omitempty"`
}

// Report is a whole run.
type Report struct {
	RunID       string         `json:"run_id"`
	Status      outcome.Status `json:"status"` // ok, partial, failed
	Jobs        []JobReport    `json:"jobs"`
	Started     time.Time      `json:"started"`
	DurationSec float64        `json:"duration_seconds"`
	// Error and ExitCode are filled in by the command that ran it.
	Error    string `json:"error,omitempty"`
	ExitCode int    `json:"exit_code"`
}

// Sentinel outcomes.
var (
	ErrPartial   = outcome.Partial("some jobs or files did not complete")
	ErrFailed    = errors.New("every job failed")
	ErrSecondary = errors.New("this is a secondary node: only the primary archives")
)

// Runner runs jobs once.
type Runner struct {
	Jobs []Job
	// Acquire takes the run lock (nil: no lock).
	Acquire func(ctx context.Context, runID string) (lock.Lock, error)
	// Primary returns ErrSecondary on a secondary node, or another error
	// when it cannot confirm the primary (nil: no check). It runs before
	// the lock is taken and any job starts.
	Primary func(ctx context.Context) error
	Log     *slog.Logger
	Now     func() time.Time
	// After, when set, receives every finished run's report (metrics,
	// events). It must not change the outcome.
	After func(ctx context.Context, rep *Report)
}

// losable is a lock that can be lost while held (lock.Lease).
type losable interface {
	Lost() <-chan struct{}
	Err() error
}

// Run runs the jobs named in only (all when empty) in order.
func (r *Runner) Run(ctx context.Context, runID string, only []string) (*Report, error) {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	start := r.Now()
	rep := &Report{RunID: runID, Started: start, Status: outcome.StatusFailed}
	defer func() {
		rep.DurationSec = r.Now().Sub(start).Seconds()
		if r.After != nil && len(rep.Jobs) > 0 {
			r.After(context.WithoutCancel(ctx), rep)
		}
	}()
	want := map[string]bool{}
	for _, n := range only {
		want[n] = true
	}
	anyNode := true
	for _, j := range r.Jobs {
		if (len(want) == 0 || want[j.Name]) && !j.AnyNode {
			anyNode = false
		}
	}
	if r.Primary != nil && !anyNode {
		if err := r.Primary(ctx); err != nil {
			// A node that says it is a secondary is not a failure of the
			// jobs; a primary that cannot be confirmed is: each job is
			// reported failed (metrics, events), so the failed-job alarm
			// pages within minutes instead of the no-success one a day later.
			if !errors.Is(err, ErrSecondary) {
				for _, j := range r.Jobs {
					if (len(want) == 0 || want[j.Name]) && !j.AnyNode {
						rep.Jobs = append(rep.Jobs, JobReport{Name: j.Name, Status: outcome.StatusFailed, Error: "not run: " + err.Error()})
					}
				}
			}
			return rep, err
		}
	}
	ctx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	// held is the run lock while this run holds it; a job may give it up
	// early (ReleaseLock) and a later job that needs the volume takes it
	// again.
	var held lock.Lock
	var stopWatch context.CancelFunc = func() {}
	acquire := func() error {
		l, err := r.Acquire(ctx, runID)
		if err != nil {
			return err
		}
		held = l
		if ll, ok := l.(losable); ok {
			// A lock lost while held (a Lease taken over) ends the run:
			// another archiver may be running.
			var watch context.Context
			watch, stopWatch = context.WithCancel(ctx)
			go func() {
				select {
				case <-ll.Lost():
					r.Log.Error("run lock lost: stopping", "run_id", runID, "error", ll.Err())
					cancelRun(ll.Err())
				case <-watch.Done():
				}
			}()
		}
		return nil
	}
	release := func() {
		if held == nil {
			return
		}
		stopWatch()
		if err := held.Release(context.WithoutCancel(ctx)); err != nil {
			r.Log.Warn("run lock not released", "run_id", runID, "error", err)
		}
		held = nil
	}
	defer release()
	if r.Acquire != nil && !anyNode {
		if err := acquire(); err != nil {
			return rep, err
		}
	}
	failed, partial, ran := 0, 0, 0
	for _, j := range r.Jobs {
		if len(want) > 0 && !want[j.Name] {
			continue
		}
		if ctx.Err() != nil {
			why := "interrupted"
			if cause := context.Cause(ctx); errors.Is(cause, lock.ErrLost) {
				why = cause.Error()
			}
			rep.Jobs = append(rep.Jobs, JobReport{Name: j.Name, Status: outcome.StatusSkipped, Error: why})
			continue
		}
		if r.Acquire != nil && !j.AnyNode && held == nil {
			// An earlier job gave the lock up: this one needs the volume.
			if err := acquire(); err != nil {
				rep.Jobs = append(rep.Jobs, JobReport{Name: j.Name, Status: outcome.StatusFailed, Error: err.Error()})
				failed++
				ran++
				continue
			}
		}
		ran++
		t0 := r.Now()
		r.Log.Info("job started", "job", j.Name, "run_id", runID)
		jctx := ctx
		if held != nil {
			jctx = context.WithValue(ctx, releaseKey{}, func() {
				r.Log.Info("run lock released early: the job no longer needs the volume", "job", j.Name, "run_id", runID)
				release()
			})
		}
		res, err := j.Run(jctx, runID)
		jr := JobReport{Name: j.Name, Status: outcome.StatusOK, Result: res, DurationSec: r.Now().Sub(t0).Seconds()}
		switch {
		case err == nil:
		case errors.Is(err, outcome.ErrPartial):
			jr.Status, jr.Error = outcome.StatusPartial, err.Error()
			partial++
		default:
			jr.Status, jr.Error = outcome.StatusFailed, err.Error()
			failed++
		}
		r.Log.Info("job finished", "job", j.Name, "run_id", runID, "status", jr.Status, "duration_seconds", jr.DurationSec, "error", jr.Error)
		rep.Jobs = append(rep.Jobs, jr)
	}
	if ran == 0 {
		return rep, fmt.Errorf("no job to run (jobs: %v)", names(r.Jobs))
	}
	if ctx.Err() != nil {
		return rep, context.Cause(ctx)
	}
	switch {
	case failed == ran:
		return rep, fmt.Errorf("%d of %d jobs failed: %w", failed, ran, ErrFailed)
	case failed > 0 || partial > 0:
		rep.Status = outcome.StatusPartial
		return rep, fmt.Errorf("%d failed, %d partial of %d jobs: %w", failed, partial, ran, ErrPartial)
	}
	rep.Status = outcome.StatusOK
	return rep, nil
}

type releaseKey struct{}

// ReleaseLock gives up the run lock before the job ends, for a job that
// no longer reads or changes the X-Road volume: a snapshot whose point in
// time is taken and that only waits on AWS, so an hourly sync need not
// wait (or fail with "locked") for it. It must be called from the job's
// own goroutine, at most once matters; without a lock it does nothing.
// A later job of the same run that needs the volume takes the lock again.
func ReleaseLock(ctx context.Context) {
	if f, ok := ctx.Value(releaseKey{}).(func()); ok {
		f()
	}
}

func names(js []Job) []string {
	var out []string
	for _, j := range js {
		out = append(out, j.Name)
	}
	return out
}

// CheckPrimary reads the node type from confDir/*.ini; a secondary gives
// ErrSecondary unless override. No files or no [node] section means a
// standalone server, which archives.
func CheckPrimary(confDir string, override bool) error {
	files, _ := filepath.Glob(filepath.Join(confDir, "*.ini"))
	typ := ""
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		t, err := xroad.ParseNodeType(f)
		f.Close()
		if err == nil && t != "" {
			typ = t
		}
	}
	if typ == xroad.NodeSecondary && !override {
		return fmt.Errorf("%w (%s says [node] type=secondary; set primary.override to run anyway)", ErrSecondary, confDir)
	}
	return nil
}
