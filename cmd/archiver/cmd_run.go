package main

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/jobs"
	"github.com/xroad-archiver/archiver/internal/output"
	"github.com/xroad-archiver/archiver/internal/s3sync"
	"github.com/xroad-archiver/archiver/internal/schedule"
)

type runOptions struct {
	config     configFile
	jobs       []string
	runID      string
	output     output.Format
	kubeconfig string
	noLock     bool
	listen     string
}

func (o *runOptions) AddFlags(fs *pflag.FlagSet) {
	o.config.AddFlag(fs)
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

// runner loads the configuration and builds its jobs (internal/jobs)
// with the real clients, keeping only those --job names; reg, in serve
// mode, also receives the run metrics.
func (o *runOptions) runner(cmd *cobra.Command, g *globalOptions, reg *prometheus.Registry) (*config.Config, *schedule.Runner, error) {
	cfg, err := o.config.load()
	if err != nil {
		return nil, nil, err
	}
	env := jobs.Env{Log: g.log, Clients: clients(o.kubeconfig), Kubeconfig: o.kubeconfig, NoLock: o.noLock, Registry: reg,
		BeforeSync: s3sync.LimitMemory}
	r, err := jobs.Build(cmd.Context(), cfg, env)
	switch {
	case errors.Is(err, jobs.ErrConfig):
		return nil, nil, usageErrorf("%v", err)
	case err != nil:
		return nil, nil, err
	}
	if err := r.Select(o.jobs); err != nil {
		return nil, nil, usageErrorf("--job %v", err)
	}
	return cfg, r, nil
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
			_, r, err := o.runner(cmd, g, nil)
			if err != nil {
				return err
			}
			rep, err := r.Run(cmd.Context(), schedule.RunIDOr(o.runID, time.Now()), o.jobs)
			if rep != nil && err != nil {
				// The report carries why and how the run ended (a
				// secondary, a held lock), not only stderr.
				rep.Error, rep.ExitCode = err.Error(), exitCode(err)
			}
			if rep == nil {
				return err
			}
			return g.print(o.output, rep, err)
		},
	}
	o.AddFlags(c.Flags())
	c.Flags().StringSliceVar(&o.jobs, "job", nil, "run only these jobs: sync, snapshot, restore-test, verify (default: all enabled)")
	c.Flags().StringVar(&o.runID, "run-id", "", "run id (default: generated)")
	addOutputFlag(c.Flags(), &o.output)
	return c
}
