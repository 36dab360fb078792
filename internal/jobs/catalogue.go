package jobs

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/gpg"
	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/restoretest"
	"github.com/xroad-archiver/archiver/internal/s3sync"
	"github.com/xroad-archiver/archiver/internal/schedule"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/verify"
)

// syncJob ships the archives as the sync section says.
func syncJob(c *config.Config, env Env) schedule.Job {
	return schedule.Job{Name: "sync", Schedule: c.Sync.Schedule, Run: func(ctx context.Context, runID string) (any, error) {
		o, oo, err := SyncOptions(ctx, c.Sync, env.Clients)
		if err != nil {
			return nil, err
		}
		if env.BeforeSync != nil {
			env.BeforeSync(oo.Concurrency, oo.PartSize)
		}
		o.RunID, o.Log = runID, env.Log
		return s3sync.Run(ctx, o)
	}}
}

// SyncOptions turns the sync section into s3sync's options, with the
// destination opened for writing, and the store options it was opened
// with.
func SyncOptions(ctx context.Context, s config.Sync, cl Clients) (s3sync.Options, store.OpenOptions, error) {
	cl = cl.withDefaults()
	var so s3sync.Options
	loc, err := store.ParseLocation(s.Dest)
	if err != nil {
		return so, store.OpenOptions{}, fmt.Errorf("sync.dest %w", err)
	}
	compress := s.Compress
	if compress == "" {
		compress = "none"
	}
	mode, err := s3sync.ParseCompress(compress)
	if err != nil {
		return so, store.OpenOptions{}, fmt.Errorf("sync.compress: %w", err)
	}
	conc := s.Concurrency
	if conc == 0 {
		conc = s3sync.DefaultConcurrency
	}
	oo := store.OpenOptions{EndpointURL: s.EndpointURL, Region: s.Region, KMSKeyID: s.KMSKeyID, BucketKey: s.BucketKey,
		PartSize: store.DefaultPartSize, MultipartThreshold: store.DefaultMultipartThreshold, Concurrency: conc,
		BandwidthLimit: s.BandwidthLimit.Bytes()}
	prune := s3sync.PruneOptions{MinAge: s.Prune.OlderThan.Value(), FreePercent: s.Prune.FreeSpacePercent, Encrypted: loc.Scheme == "s3"}
	if ol := s.ObjectLock; ol != nil {
		oo.LockMode, oo.LockRetention, prune.LockMode = ol.Mode, ol.Retention.Value(), ol.Mode
	}
	st, err := cl.OpenStore(ctx, loc, oo)
	if err != nil {
		return so, oo, err
	}
	source := s.Source
	if source == "" {
		source = s3sync.DefaultSource
	}
	host, _ := os.Hostname()
	return s3sync.Options{Source: source, Store: st, Compress: mode, Concurrency: conc,
		BackupQuiet: s.BackupQuietPeriod.Or(s3sync.DefaultBackupQuiet), Prune: prune, Host: host}, oo, nil
}

// snapshotJob snapshots the volumes as the snapshot section says.
func snapshotJob(c *config.Config, env Env) schedule.Job {
	return schedule.Job{Name: "snapshot", Schedule: c.Snapshot.Schedule, Run: func(ctx context.Context, runID string) (any, error) {
		s := c.Snapshot
		spec := SnapshotSpec{PVCs: s.PVCs, Mounts: s.Mounts, Cluster: c.Cluster, Region: s.Region, DRRegion: s.DRRegion, DRKMSKey: s.DRKMSKey,
			EFSVault: s.EFS.Vault, EFSRole: s.EFS.RoleARN, Account: s.EFS.AccountID, Timeout: s.Timeout.Value(),
			Retention: snapshot.Policy{KeepLast: s.Retention.KeepLast, Daily: s.Retention.Daily, Weekly: s.Retention.Weekly, Monthly: s.Retention.Monthly}}
		var err error
		if spec.Location, err = time.LoadLocation(c.TimeZone); err != nil { // "" is UTC
			return nil, err
		}
		if c.Sync.Dest != "" {
			loc, err := store.ParseLocation(c.Sync.Dest)
			if err != nil {
				return nil, fmt.Errorf("sync.dest %w", err)
			}
			if spec.Store, err = env.Clients.OpenStore(ctx, loc, store.OpenOptions{EndpointURL: c.Sync.EndpointURL, KMSKeyID: c.Sync.KMSKeyID, Concurrency: 4}); err != nil {
				return nil, err
			}
		}
		so, err := SnapshotOptions(ctx, spec, env.Clients)
		if err != nil {
			return nil, err
		}
		so.RunID, so.Log = runID, env.Log
		// Once every volume's point in time is taken, waiting on EBS (up
		// to snapshot.timeout) needs no lock: hourly syncs go on meanwhile
		// instead of failing with "locked".
		so.Captured = func() { schedule.ReleaseLock(ctx) }
		return snapshot.Run(ctx, so)
	}}
}

// SnapshotSpec is what a snapshot run needs besides its clients, from the
// configuration (the job) or from flags (archiver snapshot).
type SnapshotSpec struct {
	PVCs                     []string
	Mounts                   map[string]string // NAMESPACE/NAME -> where this pod mounts it
	Cluster, Region          string
	DRRegion, DRKMSKey       string
	EFSVault, EFSRole        string
	Account                  string // of the EFS file systems; "": from AWS_ROLE_ARN
	ColdAfterDays, DeleteDay int32  // EFS recovery point lifecycle (0: none)
	Retention                snapshot.Policy
	Location                 *time.Location // of retention's days
	Timeout, Poll            time.Duration
	DryRun                   bool
	Store                    store.Store // content manifests and hostPath tars; nil: none
}

// SnapshotOptions builds snapshot's options and its EBS, EFS and API
// server clients. A DR region that is the source region is an ErrConfig.
func SnapshotOptions(ctx context.Context, s SnapshotSpec, cl Clients) (snapshot.Options, error) {
	cl = cl.withDefaults()
	so := snapshot.Options{PVCs: s.PVCs, Mount: map[string]string{}, Retention: s.Retention, Location: s.Location, DryRun: s.DryRun, Store: s.Store}
	for k, v := range s.Mounts {
		so.Mount[k] = v
	}
	if so.Location == nil {
		so.Location = time.UTC
	}
	var err error
	if so.Kube, err = cl.KubeClient(); err != nil {
		return so, err
	}
	cfg, err := cl.AWS(ctx, s.Region)
	if err != nil {
		return so, err
	}
	wait := snapshot.Waiting{Timeout: s.Timeout, MinPoll: s.Poll}
	so.EBS = &snapshot.EBS{API: ec2.NewFromConfig(cfg), Region: cfg.Region, Cluster: s.Cluster, Wait: wait}
	if s.DRRegion != "" {
		if s.DRRegion == cfg.Region {
			return so, &configError{fmt.Sprintf("DR region %s is the source region", s.DRRegion)}
		}
		dcfg := cfg.Copy()
		dcfg.Region = s.DRRegion
		so.EBS.DR = &snapshot.DRCopy{API: ec2.NewFromConfig(dcfg), Region: s.DRRegion, KMSKeyID: s.DRKMSKey}
	}
	account := s.Account
	if account == "" {
		account = AccountFromARN(os.Getenv("AWS_ROLE_ARN"))
	}
	so.EFS = &snapshot.EFS{API: backup.NewFromConfig(cfg), Region: cfg.Region, Account: account, Vault: s.EFSVault, IAMRole: s.EFSRole, Cluster: s.Cluster, Wait: wait}
	if s.ColdAfterDays > 0 || s.DeleteDay > 0 {
		lc := &backuptypes.Lifecycle{}
		if s.ColdAfterDays > 0 {
			lc.MoveToColdStorageAfterDays = aws.Int64(int64(s.ColdAfterDays))
		}
		if s.DeleteDay > 0 {
			lc.DeleteAfterDays = aws.Int64(int64(s.DeleteDay))
		}
		so.EFS.Lifecycle = lc
	}
	return so, nil
}

// AccountFromARN takes the account id out of arn:aws:iam::ACCOUNT:role/NAME.
func AccountFromARN(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) >= 5 && parts[0] == "arn" {
		return parts[4]
	}
	return ""
}

// restoreTestJob runs the restore test of every configured PVC (and of
// the S3 copy with restoreTest.archives) and reports them as one batch.
func restoreTestJob(c *config.Config, env Env) schedule.Job {
	rt := c.RestoreTest
	pvcs := rt.PVCs
	if len(pvcs) == 0 {
		pvcs = c.Snapshot.PVCs
	}
	return schedule.Job{Name: "restore-test", Schedule: rt.Schedule, AnyNode: true, Run: func(ctx context.Context, runID string) (any, error) {
		b := &restoretest.Batch{}
		targets := pvcs
		if rt.Archives {
			targets = append([]string{""}, pvcs...) // "": the S3 copy
		}
		for _, pvc := range targets {
			var res *restoretest.Result
			err := fmt.Errorf("restore tests are not available in this build")
			if env.RestoreTest != nil {
				res, err = env.RestoreTest(ctx, c, pvc, runID, env.Log)
			}
			b.Add(batchEntry(res, err, pvc, runID, c.Sync.Dest))
			if ctx.Err() != nil {
				break
			}
		}
		return b, b.Err()
	}}
}

// batchEntry is one restore test's line in the batch: its result, with
// the error that ended it, as an error when there is no verdict.
func batchEntry(res *restoretest.Result, err error, pvc, runID, dest string) *restoretest.Result {
	if res == nil {
		res = &restoretest.Result{RunID: runID, Source: pvc, Status: outcome.StatusError}
		if pvc == "" {
			res.Source = dest
		}
	}
	if err != nil && res.Error == "" {
		res.Error = err.Error()
	}
	if err != nil && res.Status == outcome.StatusOK {
		res.Status = outcome.StatusError
	}
	return res
}

// DefaultVerifySample is the percentage of the archive a scheduled verify
// re-reads each run.
const DefaultVerifySample = 10

// verifyJob re-reads a rotating sample of sync.dest as the verify section
// says. It reads only: it needs neither the primary node nor the lock.
func verifyJob(c *config.Config, env Env) schedule.Job {
	return schedule.Job{Name: "verify", Schedule: c.Verify.Schedule, AnyNode: true, Run: func(ctx context.Context, _ string) (any, error) {
		v := c.Verify
		sample := v.SamplePercent
		if sample == 0 {
			sample = DefaultVerifySample
		}
		loc, err := store.ParseLocation(c.Sync.Dest)
		if err != nil {
			return nil, fmt.Errorf("sync.dest %w", err)
		}
		st, err := env.Clients.OpenReader(ctx, loc, store.OpenOptions{EndpointURL: c.Sync.EndpointURL, Region: c.Sync.Region, Concurrency: 4})
		if err != nil {
			return nil, err
		}
		var keys *gpg.Keys
		if paths := gpgPaths(v.GPGHome, v.GPGKeys); len(paths) > 0 {
			if keys, err = gpg.Load(paths, v.GPGSigners); err != nil {
				return nil, err
			}
		}
		return verify.Run(ctx, verify.Options{Store: st, SamplePercent: sample, MaxBytes: v.MaxBytes.Bytes(),
			RequireEncryption: loc.Scheme == "s3", Concurrency: 4, Log: env.Log, Keys: keys})
	}}
}

// gpgPaths is the key material to load: the GnuPG home first, then the
// exported key files. None: encrypted archives are checked for integrity
// only.
func gpgPaths(home string, keys []string) []string {
	paths := append([]string(nil), keys...)
	if home != "" {
		paths = append([]string{home}, paths...)
	}
	return paths
}
