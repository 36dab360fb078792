package jobs

import (
	"context"
	"log/slog"
	"os"
	"time"

	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/report"
	"github.com/xroad-archiver/archiver/internal/restoretest"
	"github.com/xroad-archiver/archiver/internal/s3sync"
	"github.com/xroad-archiver/archiver/internal/schedule"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/verify"
)

// RunMetrics turns a run report into data points. Their dimensions are
// report.JobDims, the ones the alarms watch.
func RunMetrics(c *config.Config, rep *schedule.Report, now time.Time) []report.Datum {
	var out []report.Datum
	for _, j := range rep.Jobs {
		if j.Status == outcome.StatusSkipped {
			continue
		}
		d := report.JobDims(c.Cluster, c.SecurityServer, j.Name)
		add := func(name string, unit cwtypes.StandardUnit, v float64) {
			out = append(out, report.Datum{Name: name, Unit: unit, Value: v, Dims: d})
		}
		add(report.MetricSuccess, cwtypes.StandardUnitCount, b(j.Status == outcome.StatusOK))
		add(report.MetricFailure, cwtypes.StandardUnitCount, b(j.Status == outcome.StatusFailed))
		add(report.MetricPartial, cwtypes.StandardUnitCount, b(j.Status == outcome.StatusPartial))
		add(report.MetricDuration, cwtypes.StandardUnitSeconds, j.DurationSec)
		switch r := j.Result.(type) {
		case *s3sync.Result:
			if r != nil {
				syncMetrics(r, now, add)
			}
		case *snapshot.Result:
			if r != nil {
				snapshotMetrics(r, add)
			}
		case *verify.Report:
			if r != nil {
				add(report.MetricVerifyProblems, cwtypes.StandardUnitCount, float64(r.Problems()))
				add(report.MetricVerifyFilesReread, cwtypes.StandardUnitCount, float64(r.Reread.Files))
				add(report.MetricVerifyBytesReread, cwtypes.StandardUnitBytes, float64(r.Reread.Bytes))
			}
		case *restoretest.Batch:
			if r != nil {
				restoreTestMetrics(r, add)
			}
		}
	}
	return out
}

type addFunc func(name string, unit cwtypes.StandardUnit, v float64)

func b(ok bool) float64 {
	if ok {
		return 1
	}
	return 0
}

func syncMetrics(r *s3sync.Result, now time.Time, add addFunc) {
	add(report.MetricFilesShipped, cwtypes.StandardUnitCount, float64(r.Uploaded.Files))
	add(report.MetricBytesShipped, cwtypes.StandardUnitBytes, float64(r.Uploaded.Bytes))
	add(report.MetricFilesFailed, cwtypes.StandardUnitCount, float64(len(r.Failed)))
	add(report.MetricBacklogFiles, cwtypes.StandardUnitCount, float64(r.Backlog.Files))
	add(report.MetricBacklogBytes, cwtypes.StandardUnitBytes, float64(r.Backlog.Bytes))
	add(report.MetricBacklogAge, cwtypes.StandardUnitSeconds, r.Backlog.OldestAgeSecond)
	if !r.LastCommit.IsZero() {
		add(report.MetricLastBackupAge, cwtypes.StandardUnitSeconds, now.Sub(r.LastCommit).Seconds())
	}
	if !r.NewestArchive.IsZero() {
		add(report.MetricNewestArchiveAge, cwtypes.StandardUnitSeconds, now.Sub(r.NewestArchive).Seconds())
	}
	if r.Status != outcome.StatusFailed {
		add(report.MetricSourceEmpty, cwtypes.StandardUnitCount, b(r.SourceEmpty))
	}
}

func snapshotMetrics(r *snapshot.Result, add addFunc) {
	n := 0
	for _, v := range r.Volumes {
		for _, a := range v.Artifacts {
			if !a.Reused && a.Completed() {
				n++
			}
		}
	}
	add(report.MetricSnapshots, cwtypes.StandardUnitCount, float64(n))
}

func restoreTestMetrics(r *restoretest.Batch, add addFunc) {
	slowest, verified, failed := 0.0, 0, 0
	for _, d := range r.Drills {
		if d.Status != outcome.StatusOK {
			failed++
			continue
		}
		slowest = max(slowest, d.TotalSec)
		if d.Check != nil {
			verified += d.Check.Verified
		}
	}
	add(report.MetricRestoreTestsFailed, cwtypes.StandardUnitCount, float64(failed))
	add(report.MetricRestoreVerified, cwtypes.StandardUnitCount, float64(verified))
	if failed < len(r.Drills) {
		add(report.MetricRestoreSeconds, cwtypes.StandardUnitSeconds, slowest)
	}
}

// metricsSink builds the configured sink (nil: none).
func metricsSink(ctx context.Context, c *config.Config, env Env) (report.Sink, error) {
	switch c.Metrics.Sink {
	case "cloudwatch":
		api, err := env.Clients.CloudWatch(ctx, c.Metrics.Region)
		if err != nil {
			return nil, err
		}
		return &report.CloudWatch{API: api, Namespace: c.Metrics.Namespace}, nil
	case "emf":
		w := env.MetricsOut
		if w == nil {
			w = os.Stderr
		}
		return &report.EMF{W: w, Namespace: c.Metrics.Namespace}, nil
	}
	return nil, nil
}

// publisher returns an after-run hook that publishes a run's metrics. A
// publishing failure is logged (with the MetricsPublishErrors marker) and
// never turned into a failed run.
func publisher(c *config.Config, sink report.Sink, log *slog.Logger) func(context.Context, *schedule.Report) {
	return func(ctx context.Context, rep *schedule.Report) {
		now := time.Now()
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := sink.Publish(ctx, now, RunMetrics(c, rep, now)); err != nil {
			log.Error("metrics not published (the run's outcome is unchanged)", "run_id", rep.RunID, "error", err, "metric", report.MetricPublishErrors)
		}
	}
}
