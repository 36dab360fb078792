package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/xroad-archiver/archiver/internal/jobs"
	"github.com/xroad-archiver/archiver/internal/output"
	"github.com/xroad-archiver/archiver/internal/parallel"
	"github.com/xroad-archiver/archiver/internal/units"
	"github.com/xroad-archiver/archiver/internal/verify"
)

// verifyOptions bind verify's flags into jobs.VerifySpec, whose
// config.Verify the scheduled job fills from the verify section, plus what
// only the command has.
type verifyOptions struct {
	jobs.VerifySpec
	since      units.Time
	output     output.Format
	noProgress bool
}

func (o *verifyOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Dest, "dest", "", "destination to verify: s3://BUCKET/PREFIX or file:///path [$ARCHIVER_DEST]")
	fs.StringVar(&o.EndpointURL, "endpoint-url", "", "S3 endpoint URL (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or AWS)")
	fs.StringVar(&o.Region, "region", "", "AWS region (default: AWS_REGION or the shared config)")
	fs.StringVar(&o.AsOf, "as-of", "", "verify the state recorded by this run's manifest (default: the latest)")
	fs.Float64Var(&o.SamplePercent, "sample", 100, "percentage of objects to re-read; the sample rotates daily so repeated runs cover everything")
	fs.Var(&o.since, "since", "re-read only files modified since this time (RFC 3339 or YYYY-MM-DD) or age (e.g. 7d)")
	fs.Var(&o.MaxBytes, "max-bytes", "stop re-reading after this many bytes, e.g. 50GiB (0: no limit); the rest is checked for presence and size")
	fs.IntVar(&o.Concurrency, "concurrency", verify.DefaultConcurrency, "objects re-read at once")
	addOutputFlag(fs, &o.output)
	fs.BoolVar(&o.noProgress, "no-progress", false, "no progress bar even on a terminal")
	addGPGFlags(fs, &o.GPGHome, &o.GPGKeys, &o.GPGSigners)
}

// addGPGFlags binds the flags of the key material to home, keys and
// signers (the verify section's, or verify-dir's gpg.Source).
func addGPGFlags(fs *pflag.FlagSet, home *string, keys, signers *[]string) {
	fs.StringVar(home, "gpg-home", "", "GnuPG home holding the key that decrypts .zip.gpg archives (a copy of the server's /etc/xroad/gpghome, mounted read-only) [$ARCHIVER_GPG_HOME]")
	fs.StringSliceVar(keys, "gpg-key", nil, "secret key file exported with gpg --export-secret-keys (armored or binary); repeatable")
	fs.StringSliceVar(signers, "gpg-signer", nil, "public key file of an accepted archive signer (default: the keys with a secret part); repeatable")
}

// verifyFlags are the flags behind the verify section's keys
// (config.Verify.Check).
var verifyFlags = map[string]string{"samplePercent": "sample", "maxBytes": "max-bytes", "gpgSigners": "gpg-signer"}

const verifyExitHelp = `Exit codes:
  0    verified: every check passed
  1    could not verify (destination unreachable, access or KMS denied, no manifest)
  2    usage error
  4    verification failed: problems are listed (missing, corrupt, chain breaks)`

func newVerifyCommand(g *globalOptions) *cobra.Command {
	o := &verifyOptions{}
	c := &cobra.Command{
		Use:   "verify",
		Short: "Prove that the destination holds what the manifests record, and that the evidence chain is intact",
		Long: `Verify the destination against its manifests: every recorded object is present with
its size; its content is re-read (streamed, decompressed) and re-hashed against the recorded
SHA-256; plain mlog-*.zip archives are checked as X-Road evidence (valid zip, linkinginfo chain
recomputed from the .asice containers, the name's Z field), and within each group every
archive's first linkinginfo line must name the previous archive and its last digest. A missing
or altered archive is reported as a break between its neighbours. .zip.gpg archives and backups
are checked by SHA-256 and as OpenPGP messages; with the key (--gpg-home or --gpg-key) they are
decrypted in a stream, their signature checked against the accepted signing keys, and then
checked as evidence and for continuity like plain archives. Without it the report says how many
were checked for integrity only. Objects no manifest records are reported as warnings.

` + verifyExitHelp,
		Example: `  archiver verify --dest s3://my-bucket/xroad/ss1
  archiver verify --dest s3://my-bucket/xroad/ss1 --sample 10 --max-bytes 20GiB -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVerify(cmd, g, o)
		},
	}
	o.AddFlags(c.Flags())
	return c
}

func runVerify(cmd *cobra.Command, g *globalOptions, o *verifyOptions) error {
	ctx := cmd.Context()
	switch {
	case o.Dest == "":
		return usageErrorf("--dest is required (s3://BUCKET/PREFIX or file:///path)")
	case o.SamplePercent == 0:
		return usageErrorf("--sample 0: want a percentage above 0 and at most 100")
	}
	if err := flagProblem(o.Verify.Check(), verifyFlags); err != nil {
		return err
	}
	if err := parallel.CheckWorkers(o.Concurrency); err != nil {
		return usageErrorf("--concurrency %v", err)
	}
	if _, err := (destOptions{dest: o.Dest}).location(); err != nil {
		return err
	}
	o.Since = o.since.Value()
	opts, err := jobs.VerifyOptions(ctx, o.VerifySpec, clients(""))
	if err != nil {
		return openErr(err)
	}
	if opts.Log = g.log; opts.Keys != nil {
		g.log.Info("encrypted archives are decrypted and signature-checked", "keys", opts.Keys.String())
	}
	if bar := g.bar(o.noProgress, "verify"); bar != nil {
		opts.Progress = bar
	}
	rep, err := verify.Run(ctx, opts)
	g.log.Info("verify finished", "status", rep.Status, "reread_files", rep.Reread.Files, "findings", len(rep.Findings), "duration_seconds", rep.DurationSec)
	return g.print(o.output, rep, err)
}
