package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/doctor"
	"github.com/xroad-archiver/archiver/internal/store"
)

func newDoctorCommand(g *globalOptions) *cobra.Command {
	var path, kubeconfig string
	var output outputFormat
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
			cfg, err := loadConfig(path)
			if err != nil {
				return usageErrorf("%v", err)
			}
			rep := doctor.Run(cmd.Context(), doctorOptions(cmd.Context(), cfg, kubeconfig, probe))
			if err := printResult(g.streams.out, output, rep); err != nil {
				return err
			}
			if rep.Status == doctor.Fail {
				return fmt.Errorf("doctor: %d of %d checks failed", rep.Count(doctor.Fail), len(rep.Checks))
			}
			return nil
		},
	}
	c.Flags().StringVarP(&path, "config", "c", defaultConfigPath, "configuration file [$ARCHIVER_CONFIG]")
	addOutputFlag(c.Flags(), &output)
	c.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, then $KUBECONFIG, ~/.kube/config)")
	c.Flags().BoolVar(&probe, "probe", false, "write one small object under .archiver/doctor/ with the configured key and read it back")
	return c
}

// doctorOptions turns the configuration into what doctor checks.
func doctorOptions(ctx context.Context, c *config.Config, kubeconfig string, probe bool) doctor.Options {
	var o doctor.Options
	if c.Sync.Dest != "" {
		d := destOptions{dest: c.Sync.Dest, endpointURL: c.Sync.EndpointURL, region: c.Sync.Region, kmsKeyID: c.Sync.KMSKeyID, bucketKey: c.Sync.BucketKey}
		// Read-only first: a mistyped file:// destination is reported, not
		// created; doctor opens it for writing only once that check passed.
		o.Store, o.StoreErr = openReader(ctx, d, 1)
		if probe {
			o.OpenProbe = func() (store.Store, error) { return openStore(ctx, d, s3Tuning{concurrency: 1}, true) }
		}
		if loc, err := d.location(); err == nil && loc.Scheme == "s3" && o.StoreErr == nil {
			o.Bucket, o.Prefix = loc.Bucket, loc.Path
			if client, err := store.NewS3Client(ctx, store.ClientOptions{EndpointURL: d.endpointURL, Region: d.region}); err != nil {
				o.S3Err = err
			} else {
				o.S3 = client
			}
		}
		o.WantLock = c.Sync.ObjectLock != nil && c.Sync.ObjectLock.Mode.IsSet()
	}
	if c.Snapshot.Enabled {
		o.PVCs = c.Snapshot.PVCs
	}
	o.LeaseNamespace = c.Lock.Namespace
	o.PrimarySelector, o.Mounts = c.Primary.Selector, c.Snapshot.Mounts
	if c.RestoreTest.Enabled {
		o.Scratch = c.RestoreTest.Namespace
	}
	if len(o.PVCs) > 0 || o.LeaseNamespace != "" || o.Scratch != "" {
		o.Kube, o.KubeErr = clients(kubeconfig).KubeClient()
	}
	return o
}
