package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/xroad-archiver/archiver/internal/dircheck"
	"github.com/xroad-archiver/archiver/internal/gpg"
	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/output"
	"github.com/xroad-archiver/archiver/internal/restoretest"
	"github.com/xroad-archiver/archiver/internal/units"
)

// verifyDirOptions bind verify-dir's flags into dircheck.DirOptions, plus
// what only the command has (--restore-from, the output).
type verifyDirOptions struct {
	dircheck.DirOptions
	destOptions
	asOf, terminationLog string
	since                units.Time
	output               output.Format
	gpg                  gpg.Source
}

func newVerifyDirCommand(g *globalOptions) *cobra.Command {
	o := &verifyDirOptions{}
	c := &cobra.Command{
		Use:   "verify-dir",
		Short: "Check a restored directory against the content manifest recorded at backup time",
		Long: `Check that --dir holds every file the content manifest records, with the same SHA-256;
plain mlog-*.zip archives must also be valid zips whose X-Road hash chain recomputes, and each
group's chain must connect across the archives (the group's earliest may name a predecessor that
is not there). .zip.gpg archives must be well-formed OpenPGP; with --gpg-home or --gpg-key they are
decrypted in a stream, their signer checked, and checked like plain ones. Files the
manifest does not record are fine, and so is a non-archive file rewritten after the manifest was
written (a newer mtime); archives and backups never change, so any difference there fails.

This is the command the verifier pod of 'archiver restore-test' runs, with the restored volume
mounted read-only. It only reads. With --termination-log it also writes the result as compact
JSON (at most 4096 bytes) for the pod's termination message.

Exit codes:
  0    every recorded file is present and identical
  1    could not check (no manifest, directory unreadable)
  2    usage error
  4    verification failed: the files are named`,
		Example: `  archiver verify-dir --dir /restore --manifest /etc/archiver/manifest/manifest.json.zst
  archiver verify-dir --dir /mnt/efs --recovery-dir 'aws-backup-restore_*' --sub /xroad --manifest m.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVerifyDir(cmd, g, o)
		},
	}
	fs := c.Flags()
	fs.StringVar(&o.Dir, "dir", "", "the restored directory (the volume's root)")
	fs.StringVar(&o.Manifest, "manifest", "", "content manifest file (JSON, or zstd-compressed JSON)")
	fs.StringVar(&o.RecoveryGlob, "recovery-dir", "", "check the newest directory below --dir matching this glob (AWS Backup EFS restores land in aws-backup-restore_<datetime>)")
	fs.Var(&o.since, "recovery-since", "with --recovery-dir: only a directory written since this time (RFC 3339; the restore job's start)")
	fs.StringArrayVar(&o.Exclude, "recovery-exclude", nil, "with --recovery-dir: never this directory (a kept recovery in use); repeatable")
	fs.StringVar(&o.Sub, "sub", "/", "with --recovery-dir: the volume's path inside the file system")
	fs.StringVar(&o.dest, "restore-from", "", "first restore the archives of this destination (s3://BUCKET/PREFIX or file:///path) into --dir, then check them against its manifest")
	fs.StringVar(&o.asOf, "as-of", "", "with --restore-from: the run whose manifest to restore (default: the latest)")
	fs.StringVar(&o.endpointURL, "endpoint-url", "", "S3 endpoint URL for --restore-from")
	fs.StringVar(&o.region, "region", "", "AWS region for --restore-from")
	fs.StringVar(&o.terminationLog, "termination-log", "", "also write the compact JSON result here (e.g. /dev/termination-log)")
	addOutputFlag(fs, &o.output)
	addGPGFlags(fs, &o.gpg.Home, &o.gpg.Keys, &o.gpg.Signers)
	return c
}

func runVerifyDir(cmd *cobra.Command, g *globalOptions, o *verifyDirOptions) error {
	if o.Dir == "" || (o.Manifest == "") == (o.dest == "") {
		return usageErrorf("--dir and one of --manifest or --restore-from are required")
	}
	res, err := checkDir(cmd.Context(), o)
	if err != nil {
		res = &dircheck.Result{Status: outcome.StatusError, Problems: []dircheck.Problem{{Kind: "error", Detail: err.Error()}}}
	}
	if o.terminationLog != "" {
		if werr := res.WriteMessage(o.terminationLog); werr != nil {
			g.log.Warn("termination message not written", "path", o.terminationLog, "error", werr)
		}
	}
	if err != nil {
		return err
	}
	return g.print(o.output, res, res.Err())
}

// checkDir checks the directory against the manifest, or first restores
// the archives of --restore-from into it (restoretest.RestoreAndCheck).
// The key material is loaded first: a bad --gpg-key changes nothing.
func checkDir(ctx context.Context, o *verifyDirOptions) (*dircheck.Result, error) {
	var err error
	if o.Keys, err = o.gpg.Load(); errors.Is(err, gpg.ErrSignersWithoutKey) {
		return nil, usageErrorf("--gpg-signer needs --gpg-home or --gpg-key to decrypt with")
	} else if err != nil {
		return nil, err
	}
	if o.dest != "" {
		st, err := openReader(ctx, o.destOptions, 4)
		if err != nil {
			return nil, err
		}
		return restoretest.RestoreAndCheck(ctx, st, o.Dir, o.asOf, o.Keys)
	}
	o.Since = o.since.Value()
	return dircheck.CheckDir(ctx, o.DirOptions)
}
