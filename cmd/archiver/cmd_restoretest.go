package main

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/jobs"
	"github.com/xroad-archiver/archiver/internal/output"
	"github.com/xroad-archiver/archiver/internal/restoretest"
	"github.com/xroad-archiver/archiver/internal/units"
)

// drillOptions bind the flags of restore-test, and of restore when it
// restores a snapshot or recovery point into a PVC, into the sections the
// scheduled job reads (the restoreTest section, sync's destination,
// snapshot's region and EFS settings; jobs.RestoreTestFromConfig turns
// them into a run), plus what only the commands have.
type drillOptions struct {
	cfg        config.Config
	sel        restoretest.Selection
	efsPath    string
	gpg        config.GPGSecret
	latest     bool
	kubeconfig string
	output     output.Format
	dryRun     bool
	runID      string
	poll       time.Duration
}

// AddFlags registers the flags restore-test and restore (with --to-pvc)
// share; restore registers its own source, namespace and output flags.
func (o *drillOptions) AddFlags(fs *pflag.FlagSet, restore bool) {
	rt, efs := &o.cfg.RestoreTest, &o.cfg.Snapshot.EFS
	fs.StringVar(&o.sel.SnapshotID, "snapshot", "", "EBS snapshot to restore (snap-...; default: the newest of the PVC)")
	fs.StringVar(&o.sel.RecoveryPoint, "recovery-point", "", "AWS Backup recovery point ARN to restore (EFS)")
	fs.StringVar(&rt.StorageClass, "storage-class", "", "storage class of the restored EBS PVC (default: the source PVC's)")
	fs.StringVar(&rt.SnapshotClass, "snapshot-class", "", "VolumeSnapshotClass for the pre-provisioned snapshot (optional)")
	fs.StringVar(&o.efsPath, "efs-path", "", "the volume's directory inside the EFS file system (needed when the PVC mounts an access point)")
	fs.StringVar(&efs.Vault, "efs-vault", "", "AWS Backup vault of the recovery point")
	fs.StringVar(&efs.RoleARN, "efs-role-arn", "", "IAM role AWS Backup assumes to restore")
	fs.StringVar(&efs.AccountID, "aws-account-id", "", "account of the EFS file system (default: from AWS_ROLE_ARN or the recovery point ARN)")
	fs.StringVar(&rt.Image, "image", "", "archiver image the verifier pod runs [$ARCHIVER_IMAGE]")
	fs.Int64Var(&rt.RunAsUser, "run-as-user", restoretest.DefaultRunAsUser, "uid/gid of the verifier pod (X-Road's files belong to 999)")
	rt.Timeout = units.DurationOf(restoretest.DefaultTimeout)
	fs.Var(&rt.Timeout, "timeout", "give up (and clean up) after this long")
	fs.DurationVar(&o.poll, "poll-interval", 2*time.Second, "how often to check progress")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, then $KUBECONFIG, ~/.kube/config)")
	fs.StringVar(&o.gpg.Name, "gpg-secret", "", "Secret in the verifier pod's namespace with the gpg key material for .zip.gpg archives (mounted read-only; default: integrity only)")
	fs.StringSliceVar(&o.gpg.Keys, "gpg-secret-key", nil, "key of --gpg-secret holding an exported secret key (gpg --export-secret-keys); repeatable")
	fs.StringSliceVar(&o.gpg.Signers, "gpg-secret-signer", nil, "key of --gpg-secret holding an accepted signer's public key (default: the secret keys' own); repeatable")
	_ = fs.MarkHidden("poll-interval")
	if restore {
		fs.StringVar(&o.sel.PVC, "pvc", "", "with --to-pvc: the PVC that was backed up, NAMESPACE/NAME (default: from the snapshot's tags)")
		return
	}
	fs.StringVar(&o.sel.PVC, "pvc", "", "PVC whose backup to restore, NAMESPACE/NAME")
	fs.BoolVar(&o.latest, "latest", false, "restore the newest completed backup (the default without --snapshot/--recovery-point)")
	fs.BoolVar(&rt.Archives, "archives", false, "instead of a snapshot, restore the archives shipped to --dest (latest sync run) inside the verifier pod, into a scratch volume")
	fs.StringVar(&rt.ServiceAccount, "service-account", "", "with --archives: the verifier pod's ServiceAccount in --namespace (IRSA or Pod Identity with read access to the bucket and key)")
	fs.StringVar(&rt.Namespace, "namespace", "", "namespace for the scratch PVC and verifier pod (default: the PVC's)")
	fs.StringVar(&o.cfg.Sync.Dest, "dest", "", "where the content manifests are: s3://BUCKET/PREFIX or file:///path [$ARCHIVER_DEST]")
	fs.StringVar(&o.cfg.Sync.EndpointURL, "endpoint-url", "", "S3 endpoint URL for the content manifests")
	fs.StringVar(&o.cfg.Snapshot.Region, "region", "", "AWS region (default: AWS_REGION or the shared config)")
	fs.StringVar(&o.runID, "run-id", "", "run id (default: generated)")
	addOutputFlag(fs, &o.output)
	fs.BoolVar(&o.dryRun, "dry-run", false, "resolve the PVC and the backup and list what would be created; create nothing")
}

func newRestoreTestCommand(g *globalOptions) *cobra.Command {
	o := &drillOptions{}
	c := &cobra.Command{
		Use:   "restore-test",
		Short: "Prove a snapshot restores: restore it into a scratch PVC, verify it in a pod, clean up",
		Long: `Restore the newest (or a chosen) backup of a PVC into a scratch PVC and check it:
EBS snapshots through a pre-provisioned VolumeSnapshotContent (deletionPolicy Retain, so the AWS
snapshot survives) and a VolumeSnapshot as the PVC's dataSource; EFS recovery points through an
AWS Backup item-level restore job and a static PV. A short-lived pod running this image
('archiver verify-dir') mounts the PVC read-only under the restricted security profile and
compares every file with the content manifest recorded at backup time (archiver snapshot
--mount). With --archives, the pod instead restores the archives shipped to --dest (the latest
sync run) into a scratch volume with its own AWS identity and checks them the same way. The time
until the restored volume is bound and verified is reported (a measured
recovery time). Everything created carries archiver's labels and run id and is deleted on
success, failure, timeout or interruption; leftovers of a crashed run are deleted by the next.

` + restoreTestExitHelp,
		Example: `  archiver restore-test --pvc xroad/xroad-primary-data --dest s3://my-bucket/xroad/ss1 --image ghcr.io/xroad-archiver/archiver:0.2.0
  archiver restore-test --archives --dest s3://my-bucket/xroad/ss1 --namespace xroad-restore-test --service-account archiver-reader
  archiver restore-test --pvc xroad/archive-efs --recovery-point arn:aws:backup:... --efs-vault xroad --efs-role-arn arn:aws:iam::123456789012:role/backup -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDrill(cmd, g, o, "")
		},
	}
	o.AddFlags(c.Flags(), false)
	return c
}

// runDrill restores and verifies; keep names the PVC a real recovery
// leaves in place ("" for a drill).
func runDrill(cmd *cobra.Command, g *globalOptions, o *drillOptions, keep string) error {
	ctx := cmd.Context()
	do, err := o.build(ctx, keep)
	if err != nil {
		return err
	}
	do.Log = g.log
	if o.dryRun {
		return output.Write(g.streams.out, o.output, restoretest.NewDryRunPlan(do))
	}
	g.log.Info("restore test started", "run_id", do.RunID, "pvc", do.Source.Ref(), "backup", do.Backup.ID, "namespace", do.Namespace, "keep", keep)
	res, err := restoretest.Run(ctx, do)
	if res == nil {
		return err
	}
	return g.print(o.output, res, err)
}

// restoreTestFlags are the flags behind the restoreTest section's keys
// (config.RestoreTest.Check).
var restoreTestFlags = map[string]string{"pvcs": "pvc", "namespace": "namespace", "runAsUser": "run-as-user",
	"efsPaths": "efs-path", "timeout": "timeout", "gpgSecret": "gpg-secret"}

// build checks the flags and builds restoretest's options
// (jobs.RestoreTestOptions).
func (o *drillOptions) build(ctx context.Context, keep string) (restoretest.Options, error) {
	rt, sel, efs := &o.cfg.RestoreTest, o.sel, o.cfg.Snapshot.EFS
	switch {
	case sel.SnapshotID != "" && sel.RecoveryPoint != "":
		return restoretest.Options{}, usageErrorf("--snapshot and --recovery-point exclude each other")
	case o.latest && (sel.SnapshotID != "" || sel.RecoveryPoint != ""):
		return restoretest.Options{}, usageErrorf("--latest excludes --snapshot and --recovery-point")
	case rt.Archives && (sel.PVC != "" || sel.SnapshotID != "" || sel.RecoveryPoint != ""):
		return restoretest.Options{}, usageErrorf("--archives restores the S3 copy: --pvc, --snapshot and --recovery-point do not apply")
	case sel.PVC == "" && sel.SnapshotID == "" && !rt.Archives:
		return restoretest.Options{}, usageErrorf("--pvc is required (NAMESPACE/NAME; with --snapshot it may be left out when the source PVC is gone)")
	case o.cfg.Sync.Dest == "":
		return restoretest.Options{}, usageErrorf("--dest is required: the store holding the content manifests (as given to archiver snapshot)")
	case sel.RecoveryPoint != "" && (efs.Vault == "" || efs.RoleARN == ""):
		return restoretest.Options{}, usageErrorf("--recovery-point needs --efs-vault and --efs-role-arn")
	case rt.RunAsUser == 0:
		return restoretest.Options{}, usageErrorf("--run-as-user 0: the verifier runs as a non-root user")
	}
	if sel.PVC != "" {
		rt.PVCs = []string{sel.PVC}
	}
	if o.efsPath != "" {
		rt.EFSPaths = map[string]string{sel.PVC: o.efsPath}
	}
	if o.gpg.Name != "" || len(o.gpg.Keys)+len(o.gpg.Signers) > 0 {
		rt.GPGSecret = &o.gpg
	}
	if err := flagProblem(rt.Check(), restoreTestFlags); err != nil {
		return restoretest.Options{}, err
	}
	if _, err := (destOptions{dest: o.cfg.Sync.Dest}).location(); err != nil {
		return restoretest.Options{}, err
	}
	spec := jobs.RestoreTestFromConfig(&o.cfg, sel.PVC, o.runID)
	spec.Selection.SnapshotID, spec.Selection.RecoveryPoint = sel.SnapshotID, sel.RecoveryPoint
	spec.Archives, spec.Poll, spec.Keep = rt.Archives, o.poll, keep
	do, err := jobs.RestoreTestOptions(ctx, spec, clients(o.kubeconfig))
	if errors.Is(err, restoretest.ErrSelection) {
		// The domain names values; the flags that set them are ours.
		return do, usageErrorf("%v (see --pvc, --snapshot, --recovery-point, --storage-class)", err)
	}
	return do, openErr(err)
}
