package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/xroad-archiver/archiver/internal/jobs"
	"github.com/xroad-archiver/archiver/internal/output"
	"github.com/xroad-archiver/archiver/internal/report"
)

func newAlarmsCommand(g *globalOptions) *cobra.Command {
	var path configFile
	var region string
	var format output.Format
	c := &cobra.Command{
		Use:   "alarms",
		Short: "CloudWatch alarms: a failed job, no success within N hours (also when nothing runs), an old backlog",
		Long: `The alarms page someone when a job fails, when a job has not succeeded for alarms.noSuccessHours
(missing data counts as breaching, so a suspended CronJob or a pod that never starts pages too), and
when archives wait too long to be shipped. Actions are the SNS topics in alarms.actions.`,
	}
	path.AddFlag(c.PersistentFlags())
	addOutputFlag(c.PersistentFlags(), &format)
	c.PersistentFlags().StringVar(&region, "region", "", "AWS region of the alarms (default: metrics.region, then the SDK's AWS_REGION)")
	run := func(apply bool) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			cfg, err := path.load()
			if err != nil {
				return err
			}
			changes, err := jobs.Alarms(cmd.Context(), cfg, clients(""), region, apply)
			if changes == nil {
				return openErr(err)
			}
			return g.print(format, changes, err)
		}
	}
	c.AddCommand(
		&cobra.Command{Use: "plan", Short: "Show which alarms would be created or updated", Args: cobra.NoArgs, RunE: run(false)},
		&cobra.Command{Use: "apply", Short: "Create or update the alarms (idempotent)", Args: cobra.NoArgs, RunE: run(true)},
		&cobra.Command{Use: "cloudformation", Short: "Print the alarms as a CloudFormation template", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				cfg, err := path.load()
				if err != nil {
					return err
				}
				_, err = io.WriteString(cmd.OutOrStdout(), report.CloudFormation(report.Alarms(report.AlarmConfigFrom(cfg))))
				return err
			}},
	)
	return c
}
