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
	sel := selection(only)
	anyNode := true // only jobs that need neither the primary nor the lock
	for _, j := range r.Jobs {
		if sel(j) && !j.AnyNode {
			anyNode = false
		}
	}
	if r.Primary != nil && !anyNode {
		if err := r.Primary(ctx); err != nil {
			r.refused(rep, sel, err)
			return rep, err
		}
	}
	ctx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	rl := &runLock{r: r, ctx: ctx, runID: runID, cancelRun: cancelRun}
	defer rl.release()
	if r.Acquire != nil && !anyNode {
		if err := rl.acquire(); err != nil {
			return rep, err
		}
	}
	var t tally
	for _, j := range r.Jobs {
		if sel(j) {
			rep.Jobs = append(rep.Jobs, r.runJob(ctx, j, runID, rl, &t))
		}
	}
	return r.outcome(ctx, rep, t)
}

// selection says whether a job is among only (all when empty).
func selection(only []string) func(Job) bool {
	want := map[string]bool{}
	for _, n := range only {
		want[n] = true
	}
	return func(j Job) bool { return len(want) == 0 || want[j.Name] }
}

// refused reports the selected jobs that need the primary as failed when
// the primary cannot be confirmed. A node that says it is a secondary is
// not a failure of the jobs; an unconfirmed primary is: each job is
// reported failed (metrics, events), so the failed-job alarm pages within
// minutes instead of the no-success one a day later.
func (r *Runner) refused(rep *Report, sel func(Job) bool, err error) {
	if errors.Is(err, ErrSecondary) {
		return
	}
	for _, j := range r.Jobs {
		if sel(j) && !j.AnyNode {
			rep.Jobs = append(rep.Jobs, JobReport{Name: j.Name, Status: outcome.StatusFailed, Error: "not run: " + err.Error()})
		}
	}
}

// tally counts the jobs that ran and how they ended.
type tally struct{ ran, failed, partial int }

// runJob runs one job (taking the lock again if an earlier job gave it up
// and this one needs the volume) and reports it; a job the run's end
// (interrupt, lost lock) reached first is skipped.
func (r *Runner) runJob(ctx context.Context, j Job, runID string, rl *runLock, t *tally) JobReport {
	if ctx.Err() != nil {
		why := "interrupted"
		if cause := context.Cause(ctx); errors.Is(cause, lock.ErrLost) {
			why = cause.Error()
		}
		return JobReport{Name: j.Name, Status: outcome.StatusSkipped, Error: why}
	}
	if r.Acquire != nil && !j.AnyNode && rl.held == nil {
		if err := rl.acquire(); err != nil {
			t.ran++
			t.failed++
			return JobReport{Name: j.Name, Status: outcome.StatusFailed, Error: err.Error()}
		}
	}
	t.ran++
	t0 := r.Now()
	r.Log.Info("job started", "job", j.Name, "run_id", runID)
	jctx := ctx
	if rl.held != nil {
		jctx = context.WithValue(ctx, releaseKey{}, func() {
			r.Log.Info("run lock released early: the job no longer needs the volume", "job", j.Name, "run_id", runID)
			rl.release()
		})
	}
	res, err := j.Run(jctx, runID)
	jr := JobReport{Name: j.Name, Status: outcome.StatusOK, Result: res, DurationSec: r.Now().Sub(t0).Seconds()}
	switch {
	case err == nil:
	case errors.Is(err, outcome.ErrPartial):
		jr.Status, jr.Error = outcome.StatusPartial, err.Error()
		t.partial++
	default:
		jr.Status, jr.Error = outcome.StatusFailed, err.Error()
		t.failed++
	}
	r.Log.Info("job finished", "job", j.Name, "run_id", runID, "status", jr.Status, "duration_seconds", jr.DurationSec, "error", jr.Error)
	return jr
}

// outcome is the run's status and error from its jobs'.
func (r *Runner) outcome(ctx context.Context, rep *Report, t tally) (*Report, error) {
	if t.ran == 0 {
		return rep, fmt.Errorf("no job to run (jobs: %v)", names(r.Jobs))
	}
	if ctx.Err() != nil {
		return rep, context.Cause(ctx)
	}
	switch {
	case t.failed == t.ran:
		return rep, fmt.Errorf("%d of %d jobs failed: %w", t.failed, t.ran, ErrFailed)
	case t.failed > 0 || t.partial > 0:
		rep.Status = outcome.StatusPartial
		return rep, fmt.Errorf("%d failed, %d partial of %d jobs: %w", t.failed, t.partial, t.ran, ErrPartial)
	}
	rep.Status = outcome.StatusOK
	return rep, nil
}

// runLock is the run lock while this run holds it; a job may give it up
// early (ReleaseLock) and a later job that needs the volume takes it
// again. A lock lost while held (a Lease taken over) ends the run:
// another archiver may be running.
type runLock struct {
	r         *Runner
	ctx       context.Context
	runID     string
	cancelRun context.CancelCauseFunc
	held      lock.Lock
	stopWatch context.CancelFunc
}

func (l *runLock) acquire() error {
	held, err := l.r.Acquire(l.ctx, l.runID)
	if err != nil {
		return err
	}
	l.held, l.stopWatch = held, func() {}
	if ll, ok := held.(losable); ok {
		var watch context.Context
		watch, l.stopWatch = context.WithCancel(l.ctx)
		go func() {
			select {
			case <-ll.Lost():
				l.r.Log.Error("run lock lost: stopping", "run_id", l.runID, "error", ll.Err())
				l.cancelRun(ll.Err())
			case <-watch.Done():
			}
		}()
	}
	return nil
}

func (l *runLock) release() {
	if l.held == nil {
		return
	}
	l.stopWatch()
	if err := l.held.Release(context.WithoutCancel(l.ctx)); err != nil {
		l.r.Log.Warn("run lock not released", "run_id", l.runID, "error", err)
	}
	l.held = nil
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
