package main

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/xroad-archiver/archiver/internal/objectlock"
	"github.com/xroad-archiver/archiver/internal/progress"
	"github.com/xroad-archiver/archiver/internal/s3sync"
	"github.com/xroad-archiver/archiver/internal/schedule"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/units"
)

type syncOptions struct {
	destOptions
	source      string
	compress    string
	concurrency int
	partSize    units.Size
	threshold   units.Size
	bandwidth   units.Size
	quiet       units.Duration
	pruneAge    units.Duration
	pruneFree   float64
	lockMode    objectlock.Mode
	lockRetain  units.Duration
	dryRun      bool
	output      outputFormat
	noProgress  bool
	runID       string
}

// newSyncOptions is sync's options with their defaults, which belong to
// s3sync and store; flags and the configuration file change them.
func newSyncOptions() *syncOptions {
	return &syncOptions{source: s3sync.DefaultSource, compress: "none", concurrency: s3sync.DefaultConcurrency,
		partSize: units.SizeOf(store.DefaultPartSize), threshold: units.SizeOf(store.DefaultMultipartThreshold),
		bandwidth: units.SizeOf(0), quiet: units.DurationOf(s3sync.DefaultBackupQuiet), output: outputText}
}

// AddFlags binds the flags to o; o's values are their defaults.
func (o *syncOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.source, "source", o.source, "X-Road archive directory (archive-path); backups are read from its backup/ directory [$ARCHIVER_SOURCE]")
	fs.StringVar(&o.dest, "dest", "", "destination: s3://BUCKET/PREFIX or file:///path [$ARCHIVER_DEST]")
	fs.StringVar(&o.kmsKeyID, "kms-key-id", "", "KMS key (id, ARN or alias) for SSE-KMS; required for s3:// [$ARCHIVER_KMS_KEY_ID]")
	fs.BoolVar(&o.bucketKey, "bucket-key", false, "enable an S3 Bucket Key on uploaded objects (fewer KMS requests)")
	fs.StringVar(&o.endpointURL, "endpoint-url", "", "S3 endpoint URL (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or AWS)")
	fs.StringVar(&o.region, "region", "", "AWS region (default: AWS_REGION or the shared config)")
	fs.StringVar(&o.compress, "compress", o.compress, "zstd compression of stored objects: auto (only what shrinks; never .gpg), zstd, none")
	fs.IntVar(&o.concurrency, "concurrency", o.concurrency, "files and requests in flight; with --part-size it bounds memory")
	fs.Var(&o.partSize, "part-size", "minimum multipart part size (grown so 10,000 parts always suffice)")
	fs.Var(&o.threshold, "multipart-threshold", "files larger than this use multipart uploads, which resume after a crash")
	fs.Var(&o.bandwidth, "bandwidth-limit", "cap on bytes sent per second, e.g. 20MiB (0: none)")
	fs.Var(&o.quiet, "backup-quiet-period", "ship a backup only once unmodified this long (backups are written in place)")
	fs.Var(&o.pruneAge, "prune-local", "delete local files older than this (e.g. 30d) once their S3 copy is proven")
	fs.Float64Var(&o.pruneFree, "prune-free-space", 0, "delete the oldest proven files while the volume has less free space than this percentage")
	fs.Var(&o.lockMode, "object-lock-mode", "Object Lock retention for every object: GOVERNANCE or COMPLIANCE")
	fs.Var(&o.lockRetain, "object-lock-retention", "Object Lock retention period, e.g. 7y or 400d")
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

// build validates the options and turns them into s3sync options (store
// opened, no logger or progress yet).
func (o *syncOptions) build(ctx context.Context) (s3sync.Options, s3Tuning, error) {
	var so s3sync.Options
	var t s3Tuning
	if o.dest == "" {
		return so, t, usageErrorf("--dest is required (s3://BUCKET/PREFIX or file:///path)")
	}
	compress, err := s3sync.ParseCompress(o.compress)
	if err != nil {
		return so, t, usageErrorf("--compress: %v", err)
	}
	if o.concurrency < 1 || o.concurrency > 64 {
		return so, t, usageErrorf("--concurrency %d: want 1 to 64", o.concurrency)
	}
	t.concurrency, t.lockMode, t.lockRetention = o.concurrency, o.lockMode.Name(), o.lockRetain.Value()
	t.partSize, t.threshold, t.bandwidth = o.partSize.Bytes(), o.threshold.Bytes(), o.bandwidth.Bytes()
	quiet := o.quiet.Value()
	var prune s3sync.PruneOptions
	if o.pruneAge.IsSet() {
		if prune.MinAge = o.pruneAge.Value(); prune.MinAge <= 0 {
			return so, t, usageErrorf("--prune-local must be a positive age such as 30d")
		}
	}
	if o.pruneFree < 0 || o.pruneFree >= 100 {
		return so, t, usageErrorf("--prune-free-space %.1f: want a percentage between 0 and 100", o.pruneFree)
	}
	prune.FreePercent = o.pruneFree
	if o.lockMode.IsSet() != o.lockRetain.IsSet() {
		return so, t, usageErrorf("--object-lock-mode and --object-lock-retention go together")
	}
	loc, err := o.location()
	if err != nil {
		return so, t, err
	}
	if loc.Scheme == "s3" {
		prune.Encrypted = true
		prune.LockMode = o.lockMode.Name()
	} else if o.lockMode.IsSet() {
		return so, t, usageErrorf("--object-lock-mode needs an s3:// destination")
	}
	st, err := openStore(ctx, o.destOptions, t, !o.dryRun)
	if err != nil {
		return so, t, err
	}
	host, _ := os.Hostname()
	so = s3sync.Options{Source: o.source, Store: st, Compress: compress, Concurrency: o.concurrency,
		BackupQuiet: quiet, DryRun: o.dryRun, Prune: prune, Host: host}
	return so, t, nil
}

func runSync(cmd *cobra.Command, g *globalOptions, o *syncOptions) error {
	ctx := cmd.Context()
	opts, t, err := o.build(ctx)
	if err != nil {
		return err
	}
	s3sync.LimitMemory(t.concurrency, t.partSize)
	showBar := !o.noProgress && isTerminal(g.streams.err)
	log, err := g.logger(showBar)
	if err != nil {
		return err
	}
	opts.Log = log
	opts.RunID = o.runID
	if opts.RunID == "" {
		opts.RunID = schedule.NewRunID(time.Now())
	}
	if showBar {
		opts.Progress = progress.New(g.streams.err, "sync")
	}
	log.Info("sync started", "run_id", opts.RunID, "source", o.source, "destination", opts.Store.URL(), "dry_run", o.dryRun)
	res, err := s3sync.Run(ctx, opts)
	log.Info("sync finished", "run_id", opts.RunID, "status", res.Status, "uploaded_files", res.Uploaded.Files,
		"uploaded_bytes", res.Uploaded.Bytes, "failed", len(res.Failed), "pruned_files", res.Pruned.Files, "duration_seconds", res.DurationSec)
	if perr := printResult(g.streams.out, o.output, res); perr != nil && err == nil {
		err = perr
	}
	return err
}
