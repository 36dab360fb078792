package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/xroad-archiver/archiver/internal/doctor"
	"github.com/xroad-archiver/archiver/internal/jobs"
	"github.com/xroad-archiver/archiver/internal/output"
)

func newDoctorCommand(g *globalOptions) *cobra.Command {
	var path configFile
	var kubeconfig string
	var format output.Format
	var probe bool
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check before the first run that the destination, the volumes and the rights the configuration needs are there",
		Long: `doctor reads the configuration and checks what the jobs will need: the destination is reachable and
listable; the bucket has versioning, Object Lock (a failure when sync.objectLock is set) and a lifecycle
rule that aborts incomplete uploads; with --probe, one small object written under .archiver/doctor/
with the configured KMS key reads back SSE-KMS; every snapshot PVC is bound to a volume archiver can back
up; this identity may hold the run lock's Lease; the restore-test namespace enforces Pod Security
"restricted". Without --probe it changes nothing.

Exit codes:
  0    every check ok (warnings are listed)
  1    some check failed
  2    usage error (bad configuration)`,
		Example: `  archiver doctor -c /etc/archiver/config.yaml
  archiver doctor -c config.yaml --probe -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := path.load()
			if err != nil {
				return err
			}
			rep := doctor.Run(cmd.Context(), jobs.DoctorOptions(cmd.Context(), cfg, clients(kubeconfig), probe))
			if err := output.Write(g.streams.out, format, rep); err != nil {
				return err
			}
			if rep.Status == doctor.Fail {
				return fmt.Errorf("doctor: %d of %d checks failed", rep.Count(doctor.Fail), len(rep.Checks))
			}
			return nil
		},
	}
	path.AddFlag(c.Flags())
	addOutputFlag(c.Flags(), &format)
	c.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, then $KUBECONFIG, ~/.kube/config)")
	c.Flags().BoolVar(&probe, "probe", false, "write one small object under .archiver/doctor/ with the configured key and read it back")
	return c
}
