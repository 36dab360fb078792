package schedule

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"

	"github.com/xroad-archiver/archiver/internal/outcome"
)

// Server runs jobs on their schedules.
type Server struct {
	Runner   *Runner
	Location *time.Location
	Jitter   time.Duration // random delay before each scheduled run
	Listen   string        // address of /healthz, /readyz, /metrics ("" none)
	NewRunID func() string
	// Registry receives archiver's metrics (nil: a new one).
	Registry *prometheus.Registry

	ready   atomic.Bool
	mu      sync.Mutex
	running map[string]bool
	runs    *prometheus.CounterVec
	last    *prometheus.GaugeVec
	dur     *prometheus.GaugeVec
}

// Serve blocks until ctx is cancelled, then stops scheduling, waits for a
// running job to finish (its context is cancelled too: uploads stop
// cleanly) and returns.
func (s *Server) Serve(ctx context.Context) error {
	if s.Location == nil {
		s.Location = time.UTC
	}
	s.running = map[string]bool{}
	reg := s.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.runs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "archiver_job_runs_total", Help: "Job runs by outcome (ok, partial, failed, skipped)."}, []string{"job", "status"})
	s.last = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "archiver_job_last_success_timestamp_seconds", Help: "When the job last finished ok."}, []string{"job"})
	s.dur = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "archiver_job_last_duration_seconds", Help: "Duration of the job's last run."}, []string{"job"})
	reg.MustRegister(s.runs, s.last, s.dur)

	c := cron.New(cron.WithLocation(s.Location))
	var wg sync.WaitGroup
	for _, j := range s.Runner.Jobs {
		if j.Schedule == "" {
			continue
		}
		j := j
		if _, err := c.AddFunc(j.Schedule, func() {
			wg.Add(1)
			defer wg.Done()
			s.fire(ctx, j.Name)
		}); err != nil {
			return fmt.Errorf("job %s: schedule %q: %w", j.Name, j.Schedule, err)
		}
	}
	var srv *http.Server
	errc := make(chan error, 1)
	if s.Listen != "" {
		ln, err := net.Listen("tcp", s.Listen)
		if err != nil {
			return fmt.Errorf("listen %s: %w", s.Listen, err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
			if !s.ready.Load() {
				http.Error(w, "not ready", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		})
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- srv.Serve(ln) }()
	}
	c.Start()
	s.ready.Store(true)
	for _, e := range c.Entries() {
		s.Runner.Log.Info("scheduled", "next", e.Next)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			c.Stop()
			return err
		}
	}
	s.ready.Store(false)
	<-c.Stop().Done()
	wg.Wait()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}
	return nil
}

// fire runs one job unless it is already running (then it logs and
// counts a skip).
func (s *Server) fire(ctx context.Context, job string) {
	s.mu.Lock()
	if s.running[job] {
		s.mu.Unlock()
		s.Runner.Log.Warn("previous run still going: skipping this one", "job", job)
		s.runs.WithLabelValues(job, "skipped").Inc()
		return
	}
	s.running[job] = true
	s.mu.Unlock()
	defer func() { s.mu.Lock(); delete(s.running, job); s.mu.Unlock() }()
	if s.Jitter > 0 {
		t := time.NewTimer(rand.N(s.Jitter))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	runID := s.NewRunID()
	rep, err := s.Runner.Run(ctx, runID, []string{job})
	status := outcome.StatusFailed
	if rep != nil && len(rep.Jobs) == 1 {
		status = rep.Jobs[0].Status
		s.dur.WithLabelValues(job).Set(rep.Jobs[0].DurationSec)
	}
	if status == outcome.StatusOK {
		s.last.WithLabelValues(job).SetToCurrentTime()
	}
	s.runs.WithLabelValues(job, string(status)).Inc()
	if err != nil {
		s.Runner.Log.Warn("scheduled run ended with an error", "job", job, "run_id", runID, "error", err)
	}
}
