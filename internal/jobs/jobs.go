package jobs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/lock"
	"github.com/xroad-archiver/archiver/internal/primary"
	"github.com/xroad-archiver/archiver/internal/report"
	"github.com/xroad-archiver/archiver/internal/restoretest"
	"github.com/xroad-archiver/archiver/internal/schedule"
)

// Env is what Build needs besides the configuration.
type Env struct {
	Log     *slog.Logger
	Clients Clients
	// Kubeconfig, when set, makes the run lock a Lease (with
	// lock.namespace) outside a cluster too.
	Kubeconfig string
	// NoLock runs without the run lock.
	NoLock bool
	// Registry, in serve mode, also receives the run metrics.
	Registry *prometheus.Registry
	// MetricsOut is where EMF metrics go (nil: os.Stderr, beside the JSON
	// logs, so stdout stays the run report alone).
	MetricsOut io.Writer
	// BeforeSync is called with a sync's concurrency and part size before
	// it runs (the binary sets its heap limit from them); nil: nothing.
	BeforeSync func(concurrency int, partSize int64)
	// RestoreTest, when set, replaces how the restore test of one PVC
	// ("": the S3 copy) is run; nil: RestoreTestOptions from the
	// restoreTest section, then restoretest.Run.
	RestoreTest func(ctx context.Context, c *config.Config, pvc, runID string, log *slog.Logger) (*restoretest.Result, error)
}

// Build turns the configuration into the runner of its enabled jobs, in
// the order sync, snapshot, restore-test, verify, with the run lock (unless
// env.NoLock), the primary check and the after-run hooks.
func Build(ctx context.Context, c *config.Config, env Env) (*schedule.Runner, error) {
	env.Clients = env.Clients.withDefaults()
	if env.Log == nil {
		env.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	r := &schedule.Runner{Log: env.Log}
	after, err := hooks(ctx, c, env)
	if err != nil {
		return nil, err
	}
	r.After = after
	r.Primary = func(ctx context.Context) error { return checkPrimary(ctx, c, env) }
	if c.Sync.Enabled {
		r.Jobs = append(r.Jobs, syncJob(c, env))
	}
	if c.Snapshot.Enabled {
		r.Jobs = append(r.Jobs, snapshotJob(c, env))
	}
	if c.RestoreTest.Enabled {
		r.Jobs = append(r.Jobs, restoreTestJob(c, env))
	}
	if c.Verify.Enabled {
		r.Jobs = append(r.Jobs, verifyJob(c, env))
	}
	if !env.NoLock {
		r.Acquire = acquire(c, env)
	}
	return r, nil
}

// hooks builds the after-run hook: metrics to the configured sink (and to
// env.Registry), Events on failed or partial jobs.
func hooks(ctx context.Context, c *config.Config, env Env) (func(context.Context, *schedule.Report), error) {
	sink, err := metricsSink(ctx, c, env)
	if err != nil {
		return nil, err
	}
	if env.Registry != nil {
		prom := &report.Prometheus{Registry: env.Registry}
		if sink == nil {
			sink = prom
		} else {
			sink = report.Multi{sink, prom}
		}
	}
	var hs []func(context.Context, *schedule.Report)
	if sink != nil {
		hs = append(hs, publisher(c, sink, env.Log))
	}
	if ev := eventRecorder(env); ev != nil {
		hs = append(hs, ev)
	}
	return func(ctx context.Context, rep *schedule.Report) {
		for _, h := range hs {
			h(ctx, rep)
		}
	}, nil
}

// acquire takes the run lock: a Lease when lock.namespace is set and
// archiver runs in a cluster (or was given a kubeconfig), a file lock
// otherwise.
func acquire(c *config.Config, env Env) func(ctx context.Context, runID string) (lock.Lock, error) {
	dur := c.Lock.Duration.Or(lock.DefaultDuration)
	return func(ctx context.Context, runID string) (lock.Lock, error) {
		holder := runID
		if h, _ := os.Hostname(); h != "" {
			holder = h + "/" + runID
		}
		if c.Lock.Namespace != "" && (os.Getenv("KUBERNETES_SERVICE_HOST") != "" || env.Kubeconfig != "") {
			kube, err := env.Clients.KubeClient()
			if err != nil {
				return nil, err
			}
			name := c.Lock.Name
			if name == "" {
				name = "archiver"
			}
			return lock.AcquireLease(ctx, kube, lock.LeaseOptions{Namespace: c.Lock.Namespace, Name: name, Holder: holder, Run: runID, Duration: dur})
		}
		path := c.Lock.File
		if path == "" {
			path = os.TempDir() + "/archiver.lock"
		}
		return lock.AcquireFile(path, holder)
	}
}

// DefaultConfDir is where X-Road's ini files say which node this is.
const DefaultConfDir = "/etc/xroad/conf.d"

// checkPrimary refuses to run anywhere but beside the X-Road primary. In
// a pod (POD_NAME) or with primary.selector set, it asks the API: the one
// pod the selector (or this pod's own pod affinity) selects must be
// Running on this pod's node, else primary.ErrUnconfirmed. The ini files
// of primary.confDir are read too: a secondary refuses
// (schedule.ErrSecondary). primary.override skips both.
func checkPrimary(ctx context.Context, c *config.Config, env Env) error {
	if c.Primary.Override {
		return nil
	}
	confDir := c.Primary.ConfDir
	if confDir == "" {
		confDir = DefaultConfDir
	}
	podName, podNS := os.Getenv("POD_NAME"), os.Getenv("POD_NAMESPACE")
	if podName != "" || c.Primary.Selector != "" {
		kube, err := env.Clients.KubeClient()
		if err != nil {
			return fmt.Errorf("%w: %v", primary.ErrUnconfirmed, err)
		}
		res, err := primary.Check(ctx, primary.Options{Kube: kube, Namespace: podNS, PodName: podName, Selector: c.Primary.Selector})
		if err != nil {
			return fmt.Errorf("%w (set primary.override to run anyway)", err)
		}
		env.Log.Info("beside the X-Road primary", "primary", res.Primary, "node", res.Node, "selector", res.Selector)
	}
	return schedule.CheckPrimary(confDir, false)
}
