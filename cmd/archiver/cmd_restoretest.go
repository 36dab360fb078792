package main

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/xroad-archiver/archiver/internal/jobs"
	"github.com/xroad-archiver/archiver/internal/restoretest"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/units"
)

// drillOptions are the flags of restore-test, and of restore when it
// restores a snapshot or recovery point into a PVC.
type drillOptions struct {
	destOptions
	pvc           string
	snapshotID    string
	recoveryPoint string
	latest        bool
	archives      bool
	serviceAcct   string
	namespace     string
	storageClass  string
	snapshotClass string
	efsPath       string
	efsVault      string
	efsRole       string
	account       string
	image         string
	runAsUser     int64
	timeout       units.Duration // unset: restoretest.DefaultTimeout
	poll          time.Duration
	kubeconfig    string
	runID         string
	output        outputFormat
	dryRun        bool
	gpg           restoretest.GPGSecret
}

// AddFlags registers the flags restore-test and restore (with --to-pvc)
// share; restore registers its own source, namespace and output flags.
func (o *drillOptions) AddFlags(fs *pflag.FlagSet, restore bool) {
	fs.StringVar(&o.snapshotID, "snapshot", "", "EBS snapshot to restore (snap-...; default: the newest of the PVC)")
	fs.StringVar(&o.recoveryPoint, "recovery-point", "", "AWS Backup recovery point ARN to restore (EFS)")
	fs.StringVar(&o.storageClass, "storage-class", "", "storage class of the restored EBS PVC (default: the source PVC's)")
	fs.StringVar(&o.snapshotClass, "snapshot-class", "", "VolumeSnapshotClass for the pre-provisioned snapshot (optional)")
	fs.StringVar(&o.efsPath, "efs-path", "", "the volume's directory inside the EFS file system (needed when the PVC mounts an access point)")
	fs.StringVar(&o.efsVault, "efs-vault", "", "AWS Backup vault of the recovery point")
	fs.StringVar(&o.efsRole, "efs-role-arn", "", "IAM role AWS Backup assumes to restore")
	fs.StringVar(&o.account, "aws-account-id", "", "account of the EFS file system (default: from AWS_ROLE_ARN or the recovery point ARN)")
	fs.StringVar(&o.image, "image", "", "archiver image the verifier pod runs [$ARCHIVER_IMAGE]")
	fs.Int64Var(&o.runAsUser, "run-as-user", restoretest.DefaultRunAsUser, "uid/gid of the verifier pod (X-Road's files belong to 999)")
	o.timeout = units.DurationOf(restoretest.DefaultTimeout)
	fs.Var(&o.timeout, "timeout", "give up (and clean up) after this long")
	fs.DurationVar(&o.poll, "poll-interval", 2*time.Second, "how often to check progress")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, then $KUBECONFIG, ~/.kube/config)")
	fs.StringVar(&o.gpg.Name, "gpg-secret", "", "Secret in the verifier pod's namespace with the gpg key material for .zip.gpg archives (mounted read-only; default: integrity only)")
	fs.StringSliceVar(&o.gpg.Keys, "gpg-secret-key", nil, "key of --gpg-secret holding an exported secret key (gpg --export-secret-keys); repeatable")
	fs.StringSliceVar(&o.gpg.Signers, "gpg-secret-signer", nil, "key of --gpg-secret holding an accepted signer's public key (default: the secret keys' own); repeatable")
	_ = fs.MarkHidden("poll-interval")
	if restore {
		fs.StringVar(&o.pvc, "pvc", "", "with --to-pvc: the PVC that was backed up, NAMESPACE/NAME (default: from the snapshot's tags)")
		return
	}
	fs.StringVar(&o.pvc, "pvc", "", "PVC whose backup to restore, NAMESPACE/NAME")
	fs.BoolVar(&o.latest, "latest", false, "restore the newest completed backup (the default without --snapshot/--recovery-point)")
	fs.BoolVar(&o.archives, "archives", false, "instead of a snapshot, restore the archives shipped to --dest (latest sync run) inside the verifier pod, into a scratch volume")
	fs.StringVar(&o.serviceAcct, "service-account", "", "with --archives: the verifier pod's ServiceAccount in --namespace (IRSA or Pod Identity with read access to the bucket and key)")
	fs.StringVar(&o.namespace, "namespace", "", "namespace for the scratch PVC and verifier pod (default: the PVC's)")
	fs.StringVar(&o.dest, "dest", "", "where the content manifests are: s3://BUCKET/PREFIX or file:///path [$ARCHIVER_DEST]")
	fs.StringVar(&o.endpointURL, "endpoint-url", "", "S3 endpoint URL for the content manifests")
	fs.StringVar(&o.region, "region", "", "AWS region (default: AWS_REGION or the shared config)")
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
	log, err := g.logger(false)
	if err != nil {
		return err
	}
	do.Log = log
	if o.dryRun {
		return printResult(g.streams.out, o.output, restoretest.NewDryRunPlan(do))
	}
	log.Info("restore test started", "run_id", do.RunID, "pvc", do.Source.Ref(), "backup", do.Backup.ID, "namespace", do.Namespace, "keep", keep)
	res, err := restoretest.Run(ctx, do)
	if res == nil {
		return err
	}
	if perr := printResult(g.streams.out, o.output, res); perr != nil && err == nil {
		err = perr
	}
	return err
}

func (o *drillOptions) build(ctx context.Context, keep string) (restoretest.Options, error) {
	var do restoretest.Options
	if o.snapshotID != "" && o.recoveryPoint != "" {
		return do, usageErrorf("--snapshot and --recovery-point exclude each other")
	}
	if o.latest && (o.snapshotID != "" || o.recoveryPoint != "") {
		return do, usageErrorf("--latest excludes --snapshot and --recovery-point")
	}
	if o.archives && (o.pvc != "" || o.snapshotID != "" || o.recoveryPoint != "") {
		return do, usageErrorf("--archives restores the S3 copy: --pvc, --snapshot and --recovery-point do not apply")
	}
	if o.archives && o.namespace == "" {
		return do, usageErrorf("--archives needs --namespace (where the verifier pod runs)")
	}
	if o.pvc == "" && o.snapshotID == "" && !o.archives {
		return do, usageErrorf("--pvc is required (NAMESPACE/NAME; with --snapshot it may be left out when the source PVC is gone)")
	}
	if o.pvc != "" {
		if _, _, err := snapshot.ParseRef(o.pvc); err != nil {
			return do, usageErrorf("--pvc: %v", err)
		}
	}
	if o.dest == "" {
		return do, usageErrorf("--dest is required: the store holding the content manifests (as given to archiver snapshot)")
	}
	if o.recoveryPoint != "" && (o.efsVault == "" || o.efsRole == "") {
		return do, usageErrorf("--recovery-point needs --efs-vault and --efs-role-arn")
	}
	if o.runAsUser <= 0 {
		return do, usageErrorf("--run-as-user %d: the verifier runs as a non-root user", o.runAsUser)
	}
	if o.gpg.Name != "" || len(o.gpg.Keys)+len(o.gpg.Signers) > 0 {
		if err := o.gpg.Check(); err != nil {
			return do, usageErrorf("--gpg-secret: %v", err)
		}
	}
	if _, err := o.location(); err != nil {
		return do, err
	}
	spec := jobs.RestoreTestSpec{Selection: restoretest.Selection{PVC: o.pvc, SnapshotID: o.snapshotID, RecoveryPoint: o.recoveryPoint, StorageClass: o.storageClass},
		Archives: o.archives, Dest: o.dest, EndpointURL: o.endpointURL, Region: o.region, ServiceAccount: o.serviceAcct, Namespace: o.namespace,
		SnapshotClass: o.snapshotClass, EFSPath: o.efsPath, EFSVault: o.efsVault, EFSRole: o.efsRole, Account: o.account,
		Image: o.image, RunAsUser: o.runAsUser, Timeout: o.timeout.Value(), Poll: o.poll, Keep: keep, RunID: o.runID}
	if o.gpg.Name != "" {
		spec.GPG = &o.gpg
	}
	do, err := jobs.RestoreTestOptions(ctx, spec, clients(o.kubeconfig))
	switch {
	case errors.Is(err, restoretest.ErrSelection):
		// The domain names values; the flags that set them are ours.
		return do, usageErrorf("%v (see --pvc, --snapshot, --recovery-point, --storage-class)", err)
	case errors.Is(err, jobs.ErrConfig), errors.Is(err, store.ErrInvalid):
		return do, openErr(err)
	}
	return do, err
}
