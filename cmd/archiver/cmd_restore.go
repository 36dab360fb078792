package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/output"
	"github.com/xroad-archiver/archiver/internal/parallel"
	"github.com/xroad-archiver/archiver/internal/restore"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/units"
)

// restoreOptions bind restore's flags into restore.Options, plus what
// only the command has (the times and zone it parses, --to-pvc's drill).
type restoreOptions struct {
	restore.Options
	destOptions
	since, until units.Time
	archiveZone  string
	output       output.Format
	noProgress   bool
	toPVC        string
	vol          drillOptions
}

func (o *restoreOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.dest, "from", "", "where to restore from: s3://BUCKET/PREFIX or file:///path [$ARCHIVER_DEST]")
	fs.StringVar(&o.To, "to", "", "target directory (created if missing); nothing is written outside it")
	fs.StringVar(&o.endpointURL, "endpoint-url", "", "S3 endpoint URL (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or AWS)")
	fs.StringVar(&o.region, "region", "", "AWS region (default: AWS_REGION or the shared config)")
	fs.StringArrayVar(&o.Include, "include", nil, "restore only paths (or base names) matching this glob; repeatable")
	fs.Var(&o.since, "since", "only archives whose records end at or after this time (RFC 3339 or YYYY-MM-DD; other files: mtime)")
	fs.Var(&o.until, "until", "only archives whose records start at or before this time")
	fs.StringVar(&o.archiveZone, "archive-zone", "", "time zone of the X and Y times in archive names, the Security Server JVM's zone (default: archiveZone or timeZone of $ARCHIVER_CONFIG or /etc/archiver/config.yaml when present, else UTC) [$ARCHIVER_ARCHIVE_ZONE]")
	fs.StringVar(&o.AsOf, "as-of", "", "restore the state recorded by this run's manifest (default: the latest)")
	fs.BoolVar(&o.Force, "force", false, "replace existing files that differ (identical files are always left alone)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "list what would be restored and the total size; write nothing")
	fs.IntVar(&o.Concurrency, "concurrency", 8, "files restored at once (restores wait on the disk as much as on the network)")
	addOutputFlag(fs, &o.output)
	fs.BoolVar(&o.noProgress, "no-progress", false, "no progress bar even on a terminal")
	fs.StringVar(&o.toPVC, "to-pvc", "", "restore --snapshot or --recovery-point into a new PVC NAMESPACE/NAME, verify it and leave it for the operator to mount")
	o.vol.AddFlags(fs, true)
}

const restoreExitHelp = `Exit codes:
  0    every selected file is in place (restored, or already identical)
  1    error: source unreadable, access or KMS decrypt denied, disk full (temporary files removed)
  2    usage error
  3    partial: some files were not restored (existing files without --force, corrupt objects, unsafe paths)`

func newRestoreCommand(g *globalOptions) *cobra.Command {
	o := &restoreOptions{}
	c := &cobra.Command{
		Use:   "restore",
		Short: "Bring archived files back into a local directory, checked and atomic",
		Long: `Restore archived files from a destination into --to. Each object is streamed,
decompressed, and its SHA-256 checked against the manifest before it is renamed into place,
so no partial or unverified file is ever left behind. Paths come from the manifest and are
never trusted: anything that would land outside --to (.., absolute paths, symlinks in the
target) is refused. An existing file is never replaced unless --force.

With --snapshot (EBS) or --recovery-point (EFS) and --to-pvc, restore brings a volume back
instead: the same machinery as restore-test creates the named PVC from the backup, verifies it
against the content manifest in --from with a verifier pod, and leaves it in place. An existing
PVC of that name is never touched.

` + restoreExitHelp,
		Example: `  archiver restore --from s3://my-bucket/xroad/ss1 --to /restore --include 'mlog-*' --since 2026-11-01
  archiver restore --from s3://my-bucket/xroad/ss1 --to /restore --as-of 20261120T031500Z-1a2b3c --dry-run
  archiver restore --from s3://my-bucket/xroad/ss1 --snapshot snap-0123456789abcdef0 --to-pvc xroad/xroad-data-restored --storage-class gp3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.toPVC != "" || o.vol.sel.SnapshotID != "" || o.vol.sel.RecoveryPoint != "" {
				return runRestoreToPVC(cmd, g, o)
			}
			return runRestore(cmd, g, o)
		},
	}
	o.AddFlags(c.Flags())
	return c
}

func runRestore(cmd *cobra.Command, g *globalOptions, o *restoreOptions) error {
	ctx := cmd.Context()
	switch {
	case o.dest == "":
		return usageErrorf("--from is required (s3://BUCKET/PREFIX or file:///path)")
	case o.To == "" && !o.DryRun:
		return usageErrorf("--to is required")
	}
	err := parallel.CheckWorkers(o.Concurrency)
	if err != nil {
		return usageErrorf("--concurrency %v", err)
	}
	if o.Since, o.Until = o.since.Value(), o.until.Value(); !o.Since.IsZero() && !o.Until.IsZero() && o.Since.After(o.Until) {
		return usageErrorf("--since %s is after --until %s: nothing could match", o.since, o.until)
	}
	if o.Zone, err = config.ArchiveZoneFor(o.archiveZone); errors.Is(err, config.ErrZone) {
		return usageErrorf("--archive-zone: %v", err)
	} else if err != nil {
		return fmt.Errorf("%w (or set --archive-zone)", err)
	}
	if o.Store, err = openReader(ctx, o.destOptions, o.Concurrency); err != nil {
		return err
	}
	o.Log = g.log
	if bar := g.bar(o.noProgress, "restore"); bar != nil {
		o.Progress = bar
	}
	res, err := restore.Run(ctx, o.Options)
	g.log.Info("restore finished", "status", res.Status, "restored_files", res.Restored.Files, "duration_seconds", res.DurationSec)
	return g.print(o.output, res, err)
}

// runRestoreToPVC restores a snapshot or recovery point into a named PVC.
func runRestoreToPVC(cmd *cobra.Command, g *globalOptions, o *restoreOptions) error {
	if o.toPVC == "" || (o.vol.sel.SnapshotID == "" && o.vol.sel.RecoveryPoint == "") {
		return usageErrorf("restoring a volume needs --to-pvc NAMESPACE/NAME and --snapshot or --recovery-point")
	}
	ns, name, err := snapshot.ParseRef(o.toPVC)
	if err != nil {
		return usageErrorf("--to-pvc: %v", err)
	}
	if o.To != "" || o.DryRun || o.Force || len(o.Include) > 0 || o.AsOf != "" {
		return usageErrorf("--to-pvc restores a whole volume: --to, --include, --as-of, --force and --dry-run do not apply")
	}
	if o.dest == "" {
		return usageErrorf("--from is required: the store holding the content manifests")
	}
	v := o.vol
	v.cfg.Sync.Dest, v.cfg.Sync.EndpointURL, v.cfg.Snapshot.Region, v.cfg.RestoreTest.Namespace, v.output = o.dest, o.endpointURL, o.region, ns, o.output
	return runDrill(cmd, g, &v, name)
}
