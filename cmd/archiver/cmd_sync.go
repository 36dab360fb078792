package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/jobs"
	"github.com/xroad-archiver/archiver/internal/output"
	"github.com/xroad-archiver/archiver/internal/parallel"
	"github.com/xroad-archiver/archiver/internal/s3sync"
	"github.com/xroad-archiver/archiver/internal/schedule"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/units"
)

// syncOptions bind sync's flags into the structure the configuration
// file's sync section fills (config.Sync), plus what only the command has.
type syncOptions struct {
	config.Sync
	partSize, threshold units.Size
	lock                config.ObjectLock
	dryRun, noProgress  bool
	output              output.Format
	runID               string
}

// newSyncOptions is sync's options with their defaults, which belong to
// s3sync and store; flags change them.
func newSyncOptions() *syncOptions {
	return &syncOptions{Sync: config.Sync{Source: s3sync.DefaultSource, Compress: "none", Concurrency: s3sync.DefaultConcurrency,
		BandwidthLimit: units.SizeOf(0), BackupQuietPeriod: units.DurationOf(s3sync.DefaultBackupQuiet)},
		partSize: units.SizeOf(store.DefaultPartSize), threshold: units.SizeOf(store.DefaultMultipartThreshold), output: output.Text}
}

// AddFlags binds the flags to o; o's values are their defaults.
func (o *syncOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Source, "source", o.Source, "X-Road archive directory (archive-path); backups are read from its backup/ directory [$ARCHIVER_SOURCE]")
	fs.StringVar(&o.Dest, "dest", "", "destination: s3://BUCKET/PREFIX or file:///path [$ARCHIVER_DEST]")
	fs.StringVar(&o.KMSKeyID, "kms-key-id", "", "KMS key (id, ARN or alias) for SSE-KMS; required for s3:// [$ARCHIVER_KMS_KEY_ID]")
	fs.BoolVar(&o.BucketKey, "bucket-key", false, "enable an S3 Bucket Key on uploaded objects (fewer KMS requests)")
	fs.StringVar(&o.EndpointURL, "endpoint-url", "", "S3 endpoint URL (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or AWS)")
	fs.StringVar(&o.Region, "region", "", "AWS region (default: AWS_REGION or the shared config)")
	fs.StringVar(&o.Compress, "compress", o.Compress, "zstd compression of stored objects: auto (only what shrinks; never .gpg), zstd, none")
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "files and requests in flight; with --part-size it bounds memory")
	fs.Var(&o.partSize, "part-size", "minimum multipart part size (grown so 10,000 parts always suffice)")
	fs.Var(&o.threshold, "multipart-threshold", "files larger than this use multipart uploads, which resume after a crash")
	fs.Var(&o.BandwidthLimit, "bandwidth-limit", "cap on bytes sent per second, e.g. 20MiB (0: none)")
	fs.Var(&o.BackupQuietPeriod, "backup-quiet-period", "ship a backup only once unmodified this long (backups are written in place)")
	fs.Var(&o.Prune.OlderThan, "prune-local", "delete local files older than this (e.g. 30d) once their S3 copy is proven")
	fs.Float64Var(&o.Prune.FreeSpacePercent, "prune-free-space", 0, "delete the oldest proven files while the volume has less free space than this percentage")
	fs.Var(&o.lock.Mode, "object-lock-mode", "Object Lock retention for every object: GOVERNANCE or COMPLIANCE")
	fs.Var(&o.lock.Retention, "object-lock-retention", "Object Lock retention period, e.g. 7y or 400d")
	fs.BoolVar(&o.dryRun, "dry-run", false, "show what would be shipped and pruned; change nothing")
	addOutputFlag(fs, &o.output)
	fs.BoolVar(&o.noProgress, "no-progress", false, "no progress bar even on a terminal")
	fs.StringVar(&o.runID, "run-id", "", "run id (default: generated, sortable by time)")
}

func newSyncCommand(g *globalOptions) *cobra.Command {
	o := newSyncOptions()
	c := &cobra.Command{
		Use:   "sync",
		Short: "Ship finished archives and backups to S3 (or a local directory)",
		Long: `Ship finished message-log archives (mlog-*.zip, mlog-*.zip.gpg) and configuration
backups (backup/*.gpg, backup/*.tar) from the X-Road archive directory to the destination.

Every upload carries SSE-KMS with --kms-key-id and a full-object CRC32C; the SHA-256 of each
file is stored with its object and in the run's manifest (.archiver/manifests/RUN.json),
written after the data. Unchanged files are recognised from the manifest without reading them.
An archived object is never overwritten: a rewritten archive is kept as a second version
(KEY~SHA16). Local files are pruned only after a HEAD proves an object with the same SHA-256.

` + exitCodesHelp,
		Example: `  archiver sync --source /var/lib/xroad --dest s3://my-bucket/xroad/ss1 --kms-key-id alias/xroad-archive
  archiver sync --dest s3://my-bucket/xroad/ss1 --kms-key-id KEY --prune-local 30d --output json
  archiver sync --source ./sample --dest file:///tmp/archive --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSync(cmd, g, o)
		},
	}
	o.AddFlags(c.Flags())
	return c
}

// syncFlags are the flags behind the sync section's keys. kmsKeyId has
// none: the store refuses an s3:// destination without a key, and openErr
// names the flag.
var syncFlags = map[string]string{"dest": "dest", "compress": "compress", "concurrency": "concurrency",
	"bandwidthLimit": "bandwidth-limit", "backupQuietPeriod": "backup-quiet-period",
	"prune.olderThan": "prune-local", "prune.freeSpacePercent": "prune-free-space",
	"objectLock.mode": "object-lock-mode", "objectLock.retention": "object-lock-retention"}

// build checks the flags (the section's check, config.Sync.Check, where a
// concurrency of 0 is the default and a flag must name one) and turns them
// into s3sync options (store opened, no logger or progress yet) and the
// store options it used.
func (o *syncOptions) build(ctx context.Context) (so s3sync.Options, oo store.OpenOptions, err error) {
	if o.Dest == "" {
		return so, oo, usageErrorf("--dest is required (s3://BUCKET/PREFIX or file:///path)")
	}
	if o.lock.Mode.IsSet() || o.lock.Retention.IsSet() {
		o.ObjectLock = &o.lock
	}
	if err = parallel.CheckWorkers(o.Concurrency); err != nil {
		return so, oo, usageErrorf("--concurrency %v", err)
	}
	if _, err = (destOptions{dest: o.Dest}).location(); err != nil {
		return so, oo, err
	}
	if err = flagProblem(o.Sync.Check(), syncFlags); err != nil {
		return so, oo, err
	}
	so, oo, err = jobs.SyncOptions(ctx, jobs.SyncSpec{Sync: o.Sync, PartSize: o.partSize.Bytes(), MultipartThreshold: o.threshold.Bytes(), DryRun: o.dryRun}, clients(""))
	return so, oo, openErr(err)
}

func runSync(cmd *cobra.Command, g *globalOptions, o *syncOptions) error {
	ctx := cmd.Context()
	opts, oo, err := o.build(ctx)
	if err != nil {
		return err
	}
	s3sync.LimitMemory(oo.Concurrency, oo.PartSize)
	opts.Log = g.log
	opts.RunID = schedule.RunIDOr(o.runID, time.Now())
	if bar := g.bar(o.noProgress, "sync"); bar != nil {
		opts.Progress = bar
	}
	g.log.Info("sync started", "run_id", opts.RunID, "source", o.Source, "destination", opts.Store.URL(), "dry_run", o.dryRun)
	res, err := s3sync.Run(ctx, opts)
	g.log.Info("sync finished", "run_id", opts.RunID, "status", res.Status, "uploaded_files", res.Uploaded.Files,
		"uploaded_bytes", res.Uploaded.Bytes, "failed", len(res.Failed), "pruned_files", res.Pruned.Files, "duration_seconds", res.DurationSec)
	return g.print(o.output, res, err)
}
