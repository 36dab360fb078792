package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/xroad-archiver/archiver/internal/jobs"
)

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
			reg := prometheus.NewRegistry()
			cfg, r, err := o.runner(cmd, g, reg)
			if err != nil {
				return err
			}
			s := jobs.Server(cfg, r, reg, o.listen)
			r.Log.Info("serving", "listen", s.Listen, "time_zone", s.Location.String(), "jobs", len(r.Jobs))
			return s.Serve(cmd.Context())
		},
	}
	o.AddFlags(c.Flags())
	c.Flags().StringVar(&o.listen, "listen", "", "address for /healthz, /readyz and /metrics (default: serve.listen or :8080)")
	c.Flags().StringSliceVar(&o.jobs, "job", nil, "schedule only these jobs: sync, snapshot, restore-test, verify (default: all enabled)")
	return c
}
