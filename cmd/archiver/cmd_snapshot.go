package main

import (
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/xroad-archiver/archiver/internal/jobs"
	"github.com/xroad-archiver/archiver/internal/output"
	"github.com/xroad-archiver/archiver/internal/schedule"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/units"
)

// snapshotOptions bind snapshot's flags into jobs.SnapshotSpec, whose
// config.Snapshot the scheduled job fills from the snapshot section, plus
// what only the command has.
type snapshotOptions struct {
	jobs.SnapshotSpec
	destOptions
	mounts     []string
	kubeconfig string
	runID      string
	timeZone   string
	output     output.Format
}

// AddFlags binds the flags of listing and taking snapshots to fs and
// those of taking them only to take: a listing refuses them as unknown.
func (o *snapshotOptions) AddFlags(fs, take *pflag.FlagSet) {
	fs.StringArrayVar(&o.PVCs, "pvc", nil, "PVC to back up, NAMESPACE/NAME; repeatable")
	take.StringArrayVar(&o.mounts, "mount", nil, "NAMESPACE/NAME=/path: where that PVC is mounted in this pod (content manifest; required for hostPath)")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, then $KUBECONFIG, ~/.kube/config)")
	fs.StringVar(&o.Cluster, "cluster", "", "cluster name recorded in tags [$ARCHIVER_CLUSTER]")
	fs.StringVar(&o.Region, "region", "", "AWS region (default: AWS_REGION or the shared config)")
	fs.StringVar(&o.dest, "dest", "", "store for content manifests and hostPath tars: s3://BUCKET/PREFIX or file:///path [$ARCHIVER_DEST]")
	fs.StringVar(&o.kmsKeyID, "kms-key-id", "", "KMS key for objects written to --dest [$ARCHIVER_KMS_KEY_ID]")
	fs.StringVar(&o.endpointURL, "endpoint-url", "", "S3 endpoint URL for --dest")
	take.StringVar(&o.runID, "run-id", "", "run id (default: generated); a rerun with the same id finds its snapshots instead of making new ones")
	take.StringVar(&o.DRRegion, "dr-region", "", "copy EBS snapshots to this disaster-recovery region")
	take.StringVar(&o.DRKMSKey, "dr-kms-key-id", "", "KMS key for the disaster-recovery copies (in the DR region)")
	fs.StringVar(&o.EFS.Vault, "efs-vault", "", "AWS Backup vault for EFS backups")
	fs.StringVar(&o.EFS.RoleARN, "efs-role-arn", "", "IAM role AWS Backup assumes (trusts backup.amazonaws.com)")
	fs.StringVar(&o.EFS.AccountID, "aws-account-id", "", "account of the EFS file systems (default: from AWS_ROLE_ARN)")
	take.Int32Var(&o.ColdAfterDays, "efs-cold-after-days", 0, "recovery point lifecycle: move to cold storage after N days (0: never)")
	take.Int32Var(&o.DeleteDay, "efs-delete-after-days", 0, "recovery point lifecycle: delete after N days (0: by retention only)")
	take.IntVar(&o.Retention.KeepLast, "keep-last", 0, "retention: keep the newest N")
	take.IntVar(&o.Retention.Daily, "keep-daily", 0, "retention: keep the newest of each of the last N days")
	take.IntVar(&o.Retention.Weekly, "keep-weekly", 0, "retention: keep the newest of each of the last N weeks")
	take.IntVar(&o.Retention.Monthly, "keep-monthly", 0, "retention: keep the newest of each of the last N months")
	fs.StringVar(&o.timeZone, "time-zone", "UTC", "time zone for retention days/weeks/months (IANA name)")
	o.Timeout = units.DurationOf(snapshot.DefaultTimeout)
	take.Var(&o.Timeout, "timeout", "how long to wait for each snapshot or backup job")
	take.BoolVar(&o.DryRun, "dry-run", false, "resolve the PVCs and show what retention would delete; create and delete nothing")
	addOutputFlag(fs, &o.output)
	fs.DurationVar(&o.Poll, "poll-interval", 5*time.Second, "first interval between progress checks (then backing off to 1m)")
	_ = fs.MarkHidden("poll-interval")
}

// snapshotFlags are the flags behind the snapshot section's keys
// (config.Snapshot.Check).
var snapshotFlags = map[string]string{"pvcs": "pvc", "mounts": "mount", "timeout": "timeout", "drKmsKeyId": "dr-kms-key-id",
	"retention.keepLast": "keep-last", "retention.daily": "keep-daily", "retention.weekly": "keep-weekly", "retention.monthly": "keep-monthly"}

const snapshotExitHelp = `Exit codes:
  0    every PVC backed up (and retention applied)
  1    no PVC backed up, or an error before any (Kubernetes/AWS configuration)
  2    usage error
  3    partial: some PVCs backed up, the others failed (each named)`

func newSnapshotCommand(g *globalOptions) *cobra.Command {
	o := &snapshotOptions{}
	c := &cobra.Command{
		Use:   "snapshot",
		Short: "Back up the volumes behind PVCs: EBS snapshots, AWS Backup jobs for EFS, tar for hostPath",
		Long: `Resolve each PVC through the Kubernetes API to its PersistentVolume and back it up the way
the Sidecar guide prescribes: EBS volumes (CSI ebs.csi.aws.com or in-tree) with EC2 snapshots,
tagged at creation and waited for until completed (optionally copied to --dr-region); EFS file
systems (efs.csi.aws.com) with AWS Backup jobs, polled until COMPLETED; hostPath and local volumes
as a zstd tar streamed to --dest. When a volume is mounted in this pod (--mount), a content
manifest (every file, SHA-256 of archives and backups) is written to --dest first, for the
restore drill to compare against. Retention (--keep-*) applies only to what archiver created for
that PV (by tag). A rerun with the same --run-id finds its snapshots instead of creating more.

` + snapshotExitHelp,
		Example: `  archiver snapshot --pvc xroad/xroad-primary-data --keep-daily 7 --keep-weekly 4 --keep-monthly 12
  archiver snapshot --pvc xroad/archive-efs --efs-vault xroad --efs-role-arn arn:aws:iam::123456789012:role/backup
  archiver snapshot list --pvc xroad/xroad-primary-data -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSnapshot(cmd, g, o, false)
		},
	}
	o.AddFlags(c.PersistentFlags(), c.Flags())
	list := &cobra.Command{
		Use:   "list",
		Short: "Show the snapshots or recovery points archiver made of PVCs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSnapshot(cmd, g, o, true)
		},
	}
	c.AddCommand(list)
	return c
}

// build checks the flags and builds snapshot's options (jobs.SnapshotOptions).
func (o *snapshotOptions) build(cmd *cobra.Command, list bool) (snapshot.Options, error) {
	ctx := cmd.Context()
	var err error
	if o.Mounts, err = snapshot.ParseMounts(o.mounts); err != nil {
		return snapshot.Options{}, usageErrorf("--mount %v", err)
	}
	if err := flagProblem(o.Snapshot.Check(), snapshotFlags); err != nil {
		return snapshot.Options{}, err
	}
	if o.ColdAfterDays > 0 && o.DeleteDay > 0 && o.DeleteDay < o.ColdAfterDays+90 {
		return snapshot.Options{}, usageErrorf("--efs-delete-after-days must be at least --efs-cold-after-days + 90 (AWS Backup's cold storage minimum)")
	}
	if o.Location, err = time.LoadLocation(o.timeZone); err != nil {
		return snapshot.Options{}, usageErrorf("--time-zone %q: %v", o.timeZone, err)
	}
	if _, err := o.location(); o.dest != "" && err != nil {
		return snapshot.Options{}, err
	}
	o.Dest, o.DestOptions = o.dest, store.OpenOptions{EndpointURL: o.endpointURL, KMSKeyID: o.kmsKeyID, ReadOnly: list || o.DryRun}
	so, err := jobs.SnapshotOptions(ctx, o.SnapshotSpec, clients(o.kubeconfig))
	return so, openErr(err)
}

func runSnapshot(cmd *cobra.Command, g *globalOptions, o *snapshotOptions, list bool) error {
	ctx := cmd.Context()
	so, err := o.build(cmd, list)
	if err != nil {
		return err
	}
	so.Log = g.log
	if list {
		vols, err := snapshot.List(ctx, so)
		if err != nil {
			return err
		}
		return g.print(o.output, snapshot.Listing(vols), nil)
	}
	so.RunID = schedule.RunIDOr(o.runID, time.Now())
	g.log.Info("snapshot started", "run_id", so.RunID, "pvcs", so.PVCs, "dry_run", so.DryRun)
	res, err := snapshot.Run(ctx, so)
	return g.print(o.output, res, err)
}
