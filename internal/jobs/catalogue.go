package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	"k8s.io/client-go/kubernetes"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/gpg"
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
		o, oo, err := SyncOptions(ctx, SyncSpec{Sync: c.Sync}, env.Clients)
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

// SyncSpec is a sync run: the sync section (of the file, or bound to
// archiver sync's flags) and what only the command sets.
type SyncSpec struct {
	config.Sync
	PartSize, MultipartThreshold int64 // 0: store.DefaultPartSize, store.DefaultMultipartThreshold
	DryRun                       bool  // open the destination read-only; change nothing
}

// SyncOptions turns the sync section into s3sync's options, with the
// destination opened for writing (read-only for a dry run), and the store
// options it was opened with.
func SyncOptions(ctx context.Context, s SyncSpec, cl Clients) (s3sync.Options, store.OpenOptions, error) {
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
		PartSize: cmp.Or(s.PartSize, store.DefaultPartSize), MultipartThreshold: cmp.Or(s.MultipartThreshold, store.DefaultMultipartThreshold),
		Concurrency: conc, BandwidthLimit: s.BandwidthLimit.Bytes(), ReadOnly: s.DryRun}
	prune := s3sync.PruneOptions{MinAge: s.Prune.OlderThan.Value(), FreePercent: s.Prune.FreeSpacePercent, Encrypted: loc.Scheme == "s3"}
	if ol := s.ObjectLock; ol != nil {
		if loc.Scheme != "s3" {
			return so, oo, &configError{"sync.objectLock needs an s3:// destination"}
		}
		oo.LockMode, oo.LockRetention, prune.LockMode = ol.Mode.Name(), ol.Retention.Value(), ol.Mode.Name()
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
		BackupQuiet: s.BackupQuietPeriod.Or(s3sync.DefaultBackupQuiet), DryRun: s.DryRun, Prune: prune, Host: host}, oo, nil
}

// snapshotJob snapshots the volumes as the snapshot section says.
func snapshotJob(c *config.Config, env Env) schedule.Job {
	return schedule.Job{Name: "snapshot", Schedule: c.Snapshot.Schedule, Run: func(ctx context.Context, runID string) (any, error) {
		spec := SnapshotSpec{Snapshot: c.Snapshot, Cluster: c.Cluster, Dest: c.Sync.Dest,
			DestOptions: store.OpenOptions{EndpointURL: c.Sync.EndpointURL, KMSKeyID: c.Sync.KMSKeyID}}
		var err error
		if spec.Location, err = time.LoadLocation(c.TimeZone); err != nil { // "" is UTC
			return nil, err
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

// SnapshotSpec is a snapshot run: the snapshot section (of the file, or
// bound to archiver snapshot's flags) and what the file says elsewhere or
// only the command sets.
type SnapshotSpec struct {
	config.Snapshot
	Cluster                  string
	ColdAfterDays, DeleteDay int32          // EFS recovery point lifecycle (0: none)
	Location                 *time.Location // of retention's days
	Poll                     time.Duration
	DryRun                   bool
	// Dest is where content manifests and hostPath tars go ("": nowhere),
	// opened with DestOptions (by default in the snapshot's region, 4
	// requests at once).
	Dest        string
	DestOptions store.OpenOptions
}

// SnapshotOptions builds snapshot's options and its EBS, EFS and API
// server clients. A DR region that is the source region is an ErrConfig.
func SnapshotOptions(ctx context.Context, s SnapshotSpec, cl Clients) (snapshot.Options, error) {
	cl = cl.withDefaults()
	so := snapshot.Options{PVCs: s.PVCs, Mount: map[string]string{}, Retention: snapshot.Policy(s.Retention), Location: s.Location, DryRun: s.DryRun}
	for k, v := range s.Mounts {
		so.Mount[k] = v
	}
	if so.Location == nil {
		so.Location = time.UTC
	}
	if s.Dest != "" {
		loc, err := store.ParseLocation(s.Dest)
		if err != nil {
			return so, fmt.Errorf("sync.dest %w", err)
		}
		oo := s.DestOptions
		oo.Region, oo.Concurrency = cmp.Or(oo.Region, s.Region), cmp.Or(oo.Concurrency, 4)
		if so.Store, err = cl.OpenStore(ctx, loc, oo); err != nil {
			return so, err
		}
	}
	var err error
	if so.Kube, err = cl.KubeClient(); err != nil {
		return so, err
	}
	cfg, err := cl.AWS(ctx, s.Region)
	if err != nil {
		return so, err
	}
	wait := snapshot.Waiting{Timeout: s.Timeout.Value(), MinPoll: s.Poll}
	so.EBS = &snapshot.EBS{API: ec2.NewFromConfig(cfg), Region: cfg.Region, Cluster: s.Cluster, Wait: wait}
	if s.DRRegion != "" {
		if s.DRRegion == cfg.Region {
			return so, &configError{fmt.Sprintf("DR region %s is the source region", s.DRRegion)}
		}
		dcfg := cfg.Copy()
		dcfg.Region = s.DRRegion
		so.EBS.DR = &snapshot.DRCopy{API: ec2.NewFromConfig(dcfg), Region: s.DRRegion, KMSKeyID: s.DRKMSKey}
	}
	account := s.EFS.AccountID
	if account == "" {
		account = snapshot.AccountFromARN(os.Getenv("AWS_ROLE_ARN"))
	}
	so.EFS = &snapshot.EFS{API: backup.NewFromConfig(cfg), Region: cfg.Region, Account: account, Vault: s.EFS.Vault, IAMRole: s.EFS.RoleARN, Cluster: s.Cluster, Wait: wait}
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

// restoreTestJob runs the restore test of every configured PVC (and of
// the S3 copy first with restoreTest.archives) and reports them as one
// batch.
func restoreTestJob(c *config.Config, env Env) schedule.Job {
	rt := c.RestoreTest
	pvcs := rt.PVCs
	if len(pvcs) == 0 {
		pvcs = c.Snapshot.PVCs
	}
	targets := pvcs
	if rt.Archives {
		targets = append([]string{""}, pvcs...) // "": the S3 copy
	}
	return schedule.Job{Name: "restore-test", Schedule: rt.Schedule, AnyNode: true, Run: func(ctx context.Context, runID string) (any, error) {
		one := env.RestoreTest
		if one == nil {
			one = func(ctx context.Context, c *config.Config, pvc, runID string, log *slog.Logger) (*restoretest.Result, error) {
				o, err := RestoreTestOptions(ctx, RestoreTestFromConfig(c, pvc, runID), env.Clients)
				if err != nil {
					return nil, err
				}
				o.Log = log
				return restoretest.Run(ctx, o)
			}
		}
		b := restoretest.RunAll(ctx, targets, runID, c.Sync.Dest, func(ctx context.Context, pvc string) (*restoretest.Result, error) {
			return one(ctx, c, pvc, runID, env.Log)
		})
		return b, b.Err()
	}}
}

// RestoreTestFromConfig is the restore test of one PVC ("": the S3 copy)
// as the restoreTest section configures it.
func RestoreTestFromConfig(c *config.Config, pvc, runID string) RestoreTestSpec {
	rt := c.RestoreTest
	s := RestoreTestSpec{Selection: restoretest.Selection{PVC: pvc, StorageClass: rt.StorageClass}, Archives: pvc == "",
		Dest: c.Sync.Dest, EndpointURL: c.Sync.EndpointURL, Region: c.Snapshot.Region,
		ServiceAccount: rt.ServiceAccount, Namespace: rt.Namespace, SnapshotClass: rt.SnapshotClass, EFSPath: rt.EFSPaths[pvc],
		EFSVault: c.Snapshot.EFS.Vault, EFSRole: c.Snapshot.EFS.RoleARN, Account: c.Snapshot.EFS.AccountID,
		Image: rt.Image, RunAsUser: rt.RunAsUser, Timeout: rt.Timeout.Value(), RunID: runID}
	if s.RunAsUser == 0 {
		s.RunAsUser = restoretest.DefaultRunAsUser
	}
	if g := rt.GPGSecret; g != nil {
		s.GPG = &restoretest.GPGSecret{Name: g.Name, Keys: g.Keys, Signers: g.Signers}
	}
	return s
}

// RestoreTestSpec is what one restore test needs besides its clients,
// from the configuration (the job) or from flags (archiver restore-test,
// restore --to-pvc).
type RestoreTestSpec struct {
	Selection restoretest.Selection
	// Archives restores the S3 copy at Dest in the verifier pod instead
	// of a volume backup.
	Archives                   bool
	Dest, EndpointURL, Region  string
	ServiceAccount, Namespace  string
	SnapshotClass, EFSPath     string
	EFSVault, EFSRole, Account string
	Image                      string
	RunAsUser                  int64
	Timeout, Poll              time.Duration
	Keep                       string // the PVC a real recovery leaves in place; "" for a test
	RunID                      string // "": a fresh one (schedule.NewRunID)
	// GPG mounts the operator's gpg key Secret into the verifier pod
	// (nil: encrypted archives are checked for integrity only).
	GPG *restoretest.GPGSecret
}

// RestoreTestOptions builds restoretest's options: the destination opened
// to read the content manifests, the API server and snapshot clients, the
// EBS and EFS clients, and the backup selected (restoretest.Select).
func RestoreTestOptions(ctx context.Context, s RestoreTestSpec, cl Clients) (restoretest.Options, error) {
	cl = cl.withDefaults()
	if s.GPG != nil {
		if err := s.GPG.Check(); err != nil {
			return restoretest.Options{}, &configError{err.Error()}
		}
	}
	s.RunID = schedule.RunIDOr(s.RunID, time.Now())
	o := restoretest.Options{Namespace: s.Namespace, StorageClass: s.Selection.StorageClass, SnapshotClass: s.SnapshotClass, EFSPath: s.EFSPath,
		Image: s.Image, RunAsUser: s.RunAsUser, Timeout: s.Timeout, Poll: s.Poll, Keep: s.Keep, RunID: s.RunID, GPG: s.GPG}
	loc, err := store.ParseLocation(s.Dest)
	if err != nil {
		return o, err
	}
	if o.Store, err = cl.OpenReader(ctx, loc, store.OpenOptions{EndpointURL: s.EndpointURL, Region: s.Region, Concurrency: 1}); err != nil {
		return o, err
	}
	cfg, err := cl.Kube()
	if err != nil {
		return o, err
	}
	cfg.QPS, cfg.Burst = 20, 40 // a few objects polled every poll interval
	if o.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return o, err
	}
	if o.Snap, err = snapclient.NewForConfig(cfg); err != nil {
		return o, err
	}
	if s.Archives {
		o.Archives = &restoretest.Archives{Dest: s.Dest, EndpointURL: s.EndpointURL, Region: s.Region, ServiceAccount: s.ServiceAccount}
		return o, nil
	}
	acfg, err := cl.AWS(ctx, s.Region)
	if err != nil {
		return o, err
	}
	ebs := &snapshot.EBS{API: ec2.NewFromConfig(acfg), Region: acfg.Region}
	bk := backup.NewFromConfig(acfg)
	account := s.Account
	if account == "" {
		account = snapshot.AccountFromARN(os.Getenv("AWS_ROLE_ARN"))
	}
	efs := &snapshot.EFS{API: bk, Region: acfg.Region, Account: account, Vault: s.EFSVault}
	if s.EFSRole != "" {
		o.EFS = &restoretest.EFSRestore{API: bk, Vault: s.EFSVault, IAMRole: s.EFSRole}
	}
	if err := restoretest.Select(ctx, &o, s.Selection, ebs, efs); err != nil {
		return o, err
	}
	if o.Namespace == "" {
		o.Namespace = o.Source.Namespace
	}
	return o, nil
}

// DefaultVerifySample is the percentage of the archive a scheduled verify
// re-reads each run.
const DefaultVerifySample = 10

// verifyJob re-reads a rotating sample of sync.dest as the verify section
// says. It reads only: it needs neither the primary node nor the lock.
func verifyJob(c *config.Config, env Env) schedule.Job {
	return schedule.Job{Name: "verify", Schedule: c.Verify.Schedule, AnyNode: true, Run: func(ctx context.Context, _ string) (any, error) {
		o, err := VerifyOptions(ctx, VerifySpec{Verify: c.Verify, Dest: c.Sync.Dest, EndpointURL: c.Sync.EndpointURL, Region: c.Sync.Region}, env.Clients)
		if err != nil {
			return nil, err
		}
		o.Log = env.Log
		return verify.Run(ctx, o)
	}}
}

// VerifySpec is a verify run: the verify section (of the file, or bound to
// archiver verify's flags), the destination it re-reads and what only the
// command sets.
type VerifySpec struct {
	config.Verify
	Dest, EndpointURL, Region string
	AsOf                      string    // "": the latest manifest
	Since                     time.Time // re-read only what changed since
	Concurrency               int       // 0: verify.DefaultConcurrency
}

// VerifyOptions turns the verify section into verify's options: the key
// material loaded (signers without a key are an ErrConfig), the destination
// opened to read, server-side encryption required on s3://. A
// SamplePercent of 0 is DefaultVerifySample.
func VerifyOptions(ctx context.Context, s VerifySpec, cl Clients) (verify.Options, error) {
	cl = cl.withDefaults()
	o := verify.Options{AsOf: s.AsOf, SamplePercent: cmp.Or(s.SamplePercent, DefaultVerifySample), Since: s.Since, MaxBytes: s.MaxBytes.Bytes(),
		Concurrency: cmp.Or(s.Concurrency, verify.DefaultConcurrency)}
	loc, err := store.ParseLocation(s.Dest)
	if err != nil {
		return o, fmt.Errorf("sync.dest %w", err)
	}
	o.Keys, err = gpg.Source{Home: s.GPGHome, Keys: s.GPGKeys, Signers: s.GPGSigners}.Load()
	if errors.Is(err, gpg.ErrSignersWithoutKey) {
		return o, &configError{"verify.gpgSigners needs verify.gpgHome or verify.gpgKeys"}
	} else if err != nil {
		return o, err
	}
	o.RequireEncryption = loc.Scheme == "s3"
	o.Store, err = cl.OpenReader(ctx, loc, store.OpenOptions{EndpointURL: s.EndpointURL, Region: s.Region, Concurrency: o.Concurrency})
	return o, err
}
