package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/drill"
	"github.com/xroad-archiver/archiver/internal/lock"
	"github.com/xroad-archiver/archiver/internal/primary"
	"github.com/xroad-archiver/archiver/internal/report"
	"github.com/xroad-archiver/archiver/internal/s3sync"
	"github.com/xroad-archiver/archiver/internal/schedule"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/units"
	"github.com/xroad-archiver/archiver/internal/verify"
)

type runOptions struct {
	config     string
	jobs       []string
	runID      string
	output     string
	kubeconfig string
	noLock     bool
	listen     string
}

func (o *runOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.config, "config", "c", "/etc/archiver/config.yaml", "configuration file [$ARCHIVER_CONFIG]")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, then $KUBECONFIG, ~/.kube/config)")
	fs.BoolVar(&o.noLock, "no-lock", false, "do not take the run lock (only for a single archiver per volume that you control)")
}

const runExitHelp = `Exit codes:
  0    every job succeeded
  1    every job failed, or the run could not start
  2    usage or configuration error
  3    partial: some jobs (or some files or volumes of a job) failed; the report names them
  11   locked: another archiver holds the lock for this volume
  12   secondary node: only the primary archives (set primary.override to run anyway)
  13   not confirmed beside the X-Road primary: the pod primary.selector (or this pod's
       affinity) selects is missing, not Running, on another node or not the only match`

// configEnv applies environment overrides to a loaded configuration.
func configEnv(c *config.Config) {
	set := func(dst *string, env string) {
		if v, ok := os.LookupEnv(env); ok {
			*dst = v
		}
	}
	set(&c.Sync.Source, "ARCHIVER_SOURCE")
	set(&c.Sync.Dest, "ARCHIVER_DEST")
	set(&c.Sync.KMSKeyID, "ARCHIVER_KMS_KEY_ID")
	set(&c.Cluster, "ARCHIVER_CLUSTER")
}

func loadConfig(path string) (*config.Config, error) {
	if v, ok := os.LookupEnv("ARCHIVER_CONFIG"); ok && path == "/etc/archiver/config.yaml" {
		path = v
	}
	c, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	configEnv(c)
	return c, nil
}

// syncFromConfig maps the sync section onto the sync command's options.
func syncFromConfig(c *config.Config) *syncOptions {
	s := c.Sync
	o := &syncOptions{source: s.Source, compress: s.Compress, concurrency: s.Concurrency, partSize: "8MiB", threshold: "64MiB",
		bandwidth: s.BandwidthLimit, quiet: s.BackupQuietPeriod, pruneAge: s.Prune.OlderThan, pruneFree: s.Prune.FreeSpacePercent, output: "json"}
	o.dest, o.kmsKeyID, o.bucketKey, o.endpointURL, o.region = s.Dest, s.KMSKeyID, s.BucketKey, s.EndpointURL, s.Region
	if o.source == "" {
		o.source = "/var/lib/xroad"
	}
	if o.compress == "" {
		o.compress = "none"
	}
	if o.concurrency == 0 {
		o.concurrency = 4
	}
	if o.bandwidth == "" {
		o.bandwidth = "0"
	}
	if o.quiet == "" {
		o.quiet = "2m"
	}
	if s.ObjectLock != nil {
		o.lockMode, o.lockRetain = s.ObjectLock.Mode, s.ObjectLock.Retention
	}
	return o
}

// snapshotFromConfig maps the snapshot section onto the snapshot command's options.
func snapshotFromConfig(c *config.Config, kubeconfig string) *snapshotOptions {
	s := c.Snapshot
	o := &snapshotOptions{pvcs: s.PVCs, kubeconfig: kubeconfig, cluster: c.Cluster, drRegion: s.DRRegion, drKMSKey: s.DRKMSKey,
		efsVault: s.EFS.Vault, efsRole: s.EFS.RoleARN, account: s.EFS.AccountID, timeout: s.Timeout, timeZone: c.TimeZone, output: "json",
		keep: snapshot.Policy{KeepLast: s.Retention.KeepLast, Daily: s.Retention.Daily, Weekly: s.Retention.Weekly, Monthly: s.Retention.Monthly}}
	o.region = s.Region
	o.dest, o.kmsKeyID, o.endpointURL = c.Sync.Dest, c.Sync.KMSKeyID, c.Sync.EndpointURL
	for k, v := range s.Mounts {
		o.mounts = append(o.mounts, k+"="+v)
	}
	if o.timeout == "" {
		o.timeout = "2h"
	}
	if o.timeZone == "" {
		o.timeZone = "UTC"
	}
	return o
}

// runner builds the jobs and the lock from the configuration.
// buildRunner builds the jobs, the lock and the reporting hooks from the
// configuration; reg, in serve mode, also receives the run metrics.
func buildRunner(cmd *cobra.Command, g *globalOptions, c *config.Config, o *runOptions, reg *prometheus.Registry) (*schedule.Runner, error) {
	log, err := g.logger(false)
	if err != nil {
		return nil, err
	}
	r := &schedule.Runner{Log: log}
	sink, err := metricsSink(cmd.Context(), c)
	if err != nil {
		return nil, err
	}
	if reg != nil {
		prom := &report.Prometheus{Registry: reg}
		if sink == nil {
			sink = prom
		} else {
			sink = report.Multi{sink, prom}
		}
	}
	var hooks []func(context.Context, *schedule.Report)
	if sink != nil {
		failures := 0
		hooks = append(hooks, publisher(c, sink, log, &failures))
	}
	if ev := eventRecorder(o.kubeconfig, log); ev != nil {
		hooks = append(hooks, ev)
	}
	r.After = func(ctx context.Context, rep *schedule.Report) {
		for _, h := range hooks {
			h(ctx, rep)
		}
	}
	confDir := c.Primary.ConfDir
	if confDir == "" {
		confDir = "/etc/xroad/conf.d"
	}
	r.Primary = func(ctx context.Context) error { return checkPrimary(ctx, c, confDir, o.kubeconfig, log) }
	if c.Sync.Enabled {
		so := syncFromConfig(c)
		r.Jobs = append(r.Jobs, schedule.Job{Name: "sync", Schedule: c.Sync.Schedule, Partial: isPartial,
			Run: func(ctx context.Context, runID string) (any, error) {
				opts, t, err := so.build(ctx)
				if err != nil {
					return nil, err
				}
				limitMemory(t)
				opts.RunID, opts.Log = runID, log
				return s3sync.Run(ctx, opts)
			}})
	}
	if c.Snapshot.Enabled {
		sn := snapshotFromConfig(c, o.kubeconfig)
		r.Jobs = append(r.Jobs, schedule.Job{Name: "snapshot", Schedule: c.Snapshot.Schedule, Partial: isPartial,
			Run: func(ctx context.Context, runID string) (any, error) {
				so, err := sn.build(cmd, false)
				if err != nil {
					return nil, err
				}
				so.RunID, so.Log = runID, log
				// Once every volume's point in time is taken, waiting on
				// EBS (up to snapshot.timeout) needs no lock: hourly syncs
				// go on meanwhile instead of failing with "locked".
				so.Captured = func() { schedule.ReleaseLock(ctx) }
				return snapshot.Run(ctx, so)
			}})
	}
	if c.RestoreTest.Enabled {
		rt := c.RestoreTest
		pvcs := rt.PVCs
		if len(pvcs) == 0 {
			pvcs = c.Snapshot.PVCs
		}
		r.Jobs = append(r.Jobs, schedule.Job{Name: "restore-test", Schedule: rt.Schedule, Partial: isPartial, AnyNode: true,
			Run: func(ctx context.Context, runID string) (any, error) {
				b := &drill.Batch{}
				targets := pvcs
				if rt.Archives {
					targets = append([]string{""}, pvcs...) // "": the S3 copy
				}
				for _, pvc := range targets {
					res, err := runConfiguredDrill(ctx, c, o.kubeconfig, pvc, runID, log)
					if res == nil {
						res = &drill.Result{RunID: runID, Source: pvc, Status: "error"}
						if pvc == "" {
							res.Source = c.Sync.Dest
						}
					}
					if err != nil && res.Error == "" {
						res.Error = err.Error()
					}
					if err != nil && res.Status == "ok" {
						res.Status = "error"
					}
					b.Add(res)
					if ctx.Err() != nil {
						break
					}
				}
				return b, b.Err()
			}})
	}
	if c.Verify.Enabled {
		r.Jobs = append(r.Jobs, schedule.Job{Name: "verify", Schedule: c.Verify.Schedule, AnyNode: true,
			Run: func(ctx context.Context, _ string) (any, error) { return runConfiguredVerify(ctx, c, log) }})
	}
	if !o.noLock {
		dur := 2 * time.Minute
		if c.Lock.Duration != "" {
			dur, _ = units.ParseDuration(c.Lock.Duration)
		}
		r.Acquire = func(ctx context.Context, runID string) (lock.Lock, error) {
			holder := runID
			if h, _ := os.Hostname(); h != "" {
				holder = h + "/" + runID
			}
			if c.Lock.Namespace != "" && (os.Getenv("KUBERNETES_SERVICE_HOST") != "" || o.kubeconfig != "") {
				kube, err := kubeClient(o.kubeconfig)
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
	return r, nil
}

// checkPrimary refuses to run anywhere but beside the X-Road primary. In
// a pod (POD_NAME) or with primary.selector set, it asks the API: the one
// pod the selector (or this pod's own pod affinity) selects must be
// Running on this pod's node, else exit 13. The ini files of confDir are
// read too: a secondary refuses (exit 12). primary.override skips both.
func checkPrimary(ctx context.Context, c *config.Config, confDir, kubeconfig string, log *slog.Logger) error {
	if c.Primary.Override {
		return nil
	}
	podName, podNS := os.Getenv("POD_NAME"), os.Getenv("POD_NAMESPACE")
	if podName != "" || c.Primary.Selector != "" {
		kube, err := kubeClient(kubeconfig)
		if err != nil {
			return fmt.Errorf("%w: %v", primary.ErrUnconfirmed, err)
		}
		res, err := primary.Check(ctx, primary.Options{Kube: kube, Namespace: podNS, PodName: podName, Selector: c.Primary.Selector})
		if err != nil {
			return fmt.Errorf("%w (set primary.override to run anyway)", err)
		}
		log.Info("beside the X-Road primary", "primary", res.Primary, "node", res.Node, "selector", res.Selector)
	}
	return schedule.CheckPrimary(confDir, false)
}

// selectJobs keeps only the named jobs (all when names is empty); a name
// that is not an enabled job is a usage error, not silently nothing.
func selectJobs(r *schedule.Runner, names []string) error {
	if len(names) == 0 {
		return nil
	}
	byName := map[string]schedule.Job{}
	var enabled []string
	for _, j := range r.Jobs {
		byName[j.Name] = j
		enabled = append(enabled, j.Name)
	}
	want := map[string]bool{}
	for _, n := range names {
		if _, ok := byName[n]; !ok {
			return usageErrorf("--job %s: not an enabled job (enabled: %s)", n, strings.Join(enabled, ", "))
		}
		want[n] = true
	}
	var keep []schedule.Job
	for _, j := range r.Jobs { // the configured order
		if want[j.Name] {
			keep = append(keep, j)
		}
	}
	r.Jobs = keep
	return nil
}

func isPartial(err error) bool {
	return errors.Is(err, s3sync.ErrPartial) || errors.Is(err, snapshot.ErrPartial) || errors.Is(err, drill.ErrPartial)
}

// runConfiguredDrill runs the restore test of one PVC as the restoreTest
// section configures it.
func runConfiguredDrill(ctx context.Context, c *config.Config, kubeconfig, pvc, runID string, log *slog.Logger) (*drill.Result, error) {
	rt := c.RestoreTest
	o := &drillOptions{pvc: pvc, archives: pvc == "", serviceAcct: rt.ServiceAccount, namespace: rt.Namespace, storageClass: rt.StorageClass, snapshotClass: rt.SnapshotClass,
		efsPath: rt.EFSPaths[pvc], efsVault: c.Snapshot.EFS.Vault, efsRole: c.Snapshot.EFS.RoleARN, account: c.Snapshot.EFS.AccountID,
		image: rt.Image, runAsUser: rt.RunAsUser, timeout: rt.Timeout, kubeconfig: kubeconfig, runID: runID, output: "json"}
	o.dest, o.endpointURL, o.region = c.Sync.Dest, c.Sync.EndpointURL, c.Snapshot.Region
	if g := rt.GPGSecret; g != nil {
		o.gpg = drill.GPGSecret{Name: g.Name, Keys: g.Keys, Signers: g.Signers}
	}
	if o.image == "" {
		o.image = os.Getenv("ARCHIVER_IMAGE")
	}
	if o.timeout == "" {
		o.timeout = "30m"
	}
	if o.runAsUser == 0 {
		o.runAsUser = 999
	}
	do, err := o.build(ctx, "")
	if err != nil {
		return nil, err
	}
	do.Log = log
	return drill.Run(ctx, do)
}

func newRunCommand(g *globalOptions) *cobra.Command {
	o := &runOptions{}
	c := &cobra.Command{
		Use:   "run",
		Short: "Run the configured jobs once (sync, snapshot, restore-test), under the run lock, on the primary only",
		Long: `Run the jobs the configuration file enables, once, in order (sync, snapshot, restore-test), with
one run id. The run holds a lock (a Kubernetes Lease when lock.namespace is set and archiver runs
in a cluster, a file lock otherwise) so two archivers never work on one volume at once, and
refuses to run on an X-Road secondary node. A run of restore-test alone touches no X-Road volume:
it needs neither the primary node nor the lock, so it can be a CronJob of its own on any node. Each job's result is reported; --output json prints the
whole run as one JSON object.

` + runExitHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(o.config)
			if err != nil {
				return usageErrorf("%v", err)
			}
			if o.output != "text" && o.output != "json" {
				return usageErrorf("--output %q: want text or json", o.output)
			}
			r, err := buildRunner(cmd, g, cfg, o, nil)
			if err != nil {
				return err
			}
			if err := selectJobs(r, o.jobs); err != nil {
				return err
			}
			runID := o.runID
			if runID == "" {
				runID = newRunID(time.Now())
			}
			rep, err := r.Run(cmd.Context(), runID, o.jobs)
			if rep != nil && err != nil {
				// The report carries why and how the run ended (a
				// secondary, a held lock), not only stderr.
				rep.Error, rep.ExitCode = err.Error(), exitCode(err)
			}
			if perr := printRunReport(g.streams.out, o.output, rep); perr != nil && err == nil {
				err = perr
			}
			return err
		},
	}
	o.AddFlags(c.Flags())
	c.Flags().StringSliceVar(&o.jobs, "job", nil, "run only these jobs: sync, snapshot, restore-test, verify (default: all enabled)")
	c.Flags().StringVar(&o.runID, "run-id", "", "run id (default: generated)")
	c.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return c
}

func printRunReport(w io.Writer, format string, r *schedule.Report) error {
	if r == nil {
		return nil
	}
	if format == "json" {
		return writeJSON(w, r)
	}
	fmt.Fprintf(w, "archiver run: %s (run %s, %.1fs)\n", r.Status, r.RunID, r.DurationSec)
	for _, j := range r.Jobs {
		fmt.Fprintf(w, "  %-9s %-8s %.1fs", j.Name, j.Status, j.DurationSec)
		if j.Error != "" {
			fmt.Fprintf(w, "  %s", strings.ReplaceAll(j.Error, "\n", " "))
		}
		fmt.Fprintln(w)
	}
	return nil
}

func newServeCommand(g *globalOptions) *cobra.Command {
	o := &runOptions{}
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the configured jobs on their cron schedules, with /healthz, /readyz and /metrics",
		Long: `Run each enabled job on its cron schedule (sync.schedule, snapshot.schedule,
restoreTest.schedule; 5-field cron or
@hourly/@daily/@every 30m) in timeZone, after a random delay of up to serve.jitter. A job whose
previous run is still going is skipped (and logged and counted). /healthz, /readyz and Prometheus
/metrics are served on serve.listen (default :8080). SIGTERM stops scheduling, cancels a running job
(uploads stop cleanly; nothing half-written becomes visible) and exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(o.config)
			if err != nil {
				return usageErrorf("%v", err)
			}
			reg := prometheus.NewRegistry()
			r, err := buildRunner(cmd, g, cfg, o, reg)
			if err != nil {
				return err
			}
			if err := selectJobs(r, o.jobs); err != nil {
				return err
			}
			loc := time.UTC
			if cfg.TimeZone != "" {
				loc, _ = time.LoadLocation(cfg.TimeZone)
			}
			var jitter time.Duration
			if cfg.Serve.Jitter != "" {
				jitter, _ = units.ParseDuration(cfg.Serve.Jitter)
			}
			listen := cfg.Serve.Listen
			if o.listen != "" {
				listen = o.listen
			}
			if listen == "" {
				listen = ":8080"
			}
			s := &schedule.Server{Runner: r, Location: loc, Jitter: jitter, Listen: listen, Registry: reg, NewRunID: func() string { return newRunID(time.Now()) }}
			r.Log.Info("serving", "listen", listen, "time_zone", loc.String(), "jobs", len(r.Jobs))
			return s.Serve(cmd.Context())
		},
	}
	o.AddFlags(c.Flags())
	c.Flags().StringVar(&o.listen, "listen", "", "address for /healthz, /readyz and /metrics (default: serve.listen or :8080)")
	c.Flags().StringSliceVar(&o.jobs, "job", nil, "schedule only these jobs: sync, snapshot, restore-test, verify (default: all enabled)")
	return c
}

func newConfigCommand() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Work with the configuration file"}
	var path string
	v := &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration file; every problem is listed with its line and field",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := loadConfig(path); err != nil {
				return usageErrorf("%v", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", path)
			return nil
		},
	}
	v.Flags().StringVarP(&path, "config", "c", "/etc/archiver/config.yaml", "configuration file [$ARCHIVER_CONFIG]")
	c.AddCommand(v)
	return c
}

// runConfiguredVerify re-reads a rotating sample of sync.dest as the
// verify section configures it. It reads only: it needs neither the
// primary node nor the run lock.
func runConfiguredVerify(ctx context.Context, c *config.Config, log *slog.Logger) (*verify.Report, error) {
	v := c.Verify
	sample := v.SamplePercent
	if sample == 0 {
		sample = 10
	}
	var maxBytes int64
	if v.MaxBytes != "" {
		var err error
		if maxBytes, err = units.ParseSize(v.MaxBytes); err != nil {
			return nil, err
		}
	}
	st, err := openStore(ctx, destOptions{dest: c.Sync.Dest, endpointURL: c.Sync.EndpointURL, region: c.Sync.Region}, s3Tuning{concurrency: 4}, false)
	if err != nil {
		return nil, err
	}
	keys, err := (&gpgOptions{home: v.GPGHome, keys: v.GPGKeys, signers: v.GPGSigners}).load()
	if err != nil {
		return nil, err
	}
	return verify.Run(ctx, verify.Options{Store: st, SamplePercent: sample, MaxBytes: maxBytes,
		RequireEncryption: strings.HasPrefix(c.Sync.Dest, "s3://"), Concurrency: 4, Log: log, Keys: keys})
}
