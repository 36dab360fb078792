package snapshot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/store"
)

// Options configure a snapshot run over several PVCs.
type Options struct {
	Kube  kubernetes.Interface
	PVCs  []string          // NAMESPACE/NAME
	Mount map[string]string // NAMESPACE/NAME -> where the volume is mounted in this pod
	RunID string
	// Store receives content manifests and hostPath tars (nil: none).
	Store     store.Store
	EBS       *EBS // nil: EBS volumes fail with a configuration error
	EFS       *EFS // nil: EFS volumes fail with a configuration error
	Retention Policy
	Location  *time.Location // for retention buckets; default UTC
	DryRun    bool
	Now       func() time.Time
	Log       *slog.Logger
	// Captured, when set, is called once every volume's point in time is
	// taken: content manifests written, EBS snapshots created, hostPath
	// tars and EFS backups (which read the volume over time) finished.
	// What is left is waiting on AWS; the run lock can be released then.
	// EBS snapshots are waited for after it returns.
	Captured func()
}

// VolumeResult is the outcome for one PVC.
type VolumeResult struct {
	PVC             string         `json:"pvc"`
	Volume          *Volume        `json:"volume,omitempty"`
	Status          outcome.Status `json:"status"` // ok, failed, planned
	Error           string         `json:"error,omitempty"`
	ContentManifest string         `json:"content_manifest,omitempty"`
	Files           int            `json:"files,omitempty"`
	Skipped         []Skipped      `json:"skipped,omitempty"` // entries archiver may not read (warnings)
	Artifacts       []Artifact     `json:"artifacts,omitempty"`
	Pruned          []Artifact     `json:"pruned,omitempty"` // deleted (or, in a dry run, to delete)
	DurationSec     float64        `json:"duration_seconds"`
}

// Result is the outcome of a run.
type Result struct {
	RunID       string         `json:"run_id"`
	DryRun      bool           `json:"dry_run"`
	Status      outcome.Status `json:"status"` // ok, partial, failed
	Volumes     []VolumeResult `json:"volumes"`
	DurationSec float64        `json:"duration_seconds"`
}

// ErrPartial means some PVCs were backed up and some failed (each named).
var ErrPartial = outcome.Partial("some volumes were not backed up")

// ErrAllFailed means no PVC was backed up.
var ErrAllFailed = errors.New("no volume was backed up")

func (o *Options) defaults() {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Run backs up every PVC; one failing does not stop the others.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	start := o.Now()
	res := &Result{RunID: o.RunID, DryRun: o.DryRun}
	var waiting []*started
	for _, ref := range o.PVCs {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		t0 := o.Now()
		vr, st := o.one(ctx, ref)
		vr.DurationSec = o.Now().Sub(t0).Seconds()
		if st != nil {
			st.index = len(res.Volumes)
			waiting = append(waiting, st)
		} else {
			o.logVolume(vr)
		}
		res.Volumes = append(res.Volumes, vr)
	}
	if o.Captured != nil && !o.DryRun {
		o.Captured()
	}
	for _, st := range waiting {
		t0 := o.Now()
		vr := &res.Volumes[st.index]
		o.complete(ctx, st, vr)
		vr.DurationSec += o.Now().Sub(t0).Seconds()
		o.logVolume(*vr)
	}
	res.DurationSec = o.Now().Sub(start).Seconds()
	failed := 0
	for _, vr := range res.Volumes {
		if vr.Status == outcome.StatusFailed {
			failed++
		}
	}
	switch {
	case failed == 0:
		res.Status = outcome.StatusOK
		return res, nil
	case failed == len(o.PVCs):
		res.Status = outcome.StatusFailed
		return res, fmt.Errorf("%d of %d volumes failed: %w", failed, len(o.PVCs), ErrAllFailed)
	}
	res.Status = outcome.StatusPartial
	return res, fmt.Errorf("%d of %d volumes failed: %w", failed, len(o.PVCs), ErrPartial)
}

func (o *Options) logVolume(vr VolumeResult) {
	if vr.Status == outcome.StatusFailed {
		o.Log.Warn("volume not backed up", "pvc", vr.PVC, "error", vr.Error)
	} else {
		o.Log.Info("volume backed up", "pvc", vr.PVC, "artifacts", len(vr.Artifacts), "pruned", len(vr.Pruned), "dry_run", o.DryRun)
	}
}

// started is an EBS snapshot whose point in time is taken, left to wait
// for after Captured.
type started struct {
	index int
	ebs   *EBS
	v     Volume
	a     Artifact
	tags  map[string]string
}

func (o *Options) complete(ctx context.Context, st *started, vr *VolumeResult) {
	a, err := st.ebs.complete(ctx, st.a, st.tags)
	vr.Artifacts = append(vr.Artifacts, a)
	if err != nil {
		vr.Error = err.Error()
		return
	}
	if !o.Retention.IsZero() {
		if vr.Pruned, err = st.ebs.Prune(ctx, st.v, o.Retention, false, o.Location); err != nil {
			vr.Error = fmt.Errorf("backed up, but retention failed: %w", err).Error()
			return
		}
	}
	vr.Status = outcome.StatusOK
}

// one backs up a PVC. With Captured set, an EBS snapshot is only started:
// it is returned to be waited for once every volume is captured.
func (o *Options) one(ctx context.Context, ref string) (VolumeResult, *started) {
	vr := VolumeResult{PVC: ref, Status: outcome.StatusFailed}
	fail := func(err error) (VolumeResult, *started) { vr.Error = err.Error(); return vr, nil }
	ns, name, err := ParseRef(ref)
	if err != nil {
		return fail(err)
	}
	v, err := Resolve(ctx, o.Kube, ns, name)
	if err != nil {
		return fail(err)
	}
	vr.Volume = &v
	backend, err := o.backend(v)
	if err != nil {
		return fail(err)
	}
	if o.DryRun {
		vr.Status = outcome.StatusPlanned
		if backend != nil && !o.Retention.IsZero() {
			if vr.Pruned, err = backend.Prune(ctx, v, o.Retention, true, o.Location); err != nil {
				return fail(err)
			}
		}
		return vr, nil
	}
	// Record what the volume holds before it is snapshotted.
	var content *ContentManifest
	if root, ok := o.Mount[ref]; ok {
		files, skipped, err := Scan(ctx, root)
		if err != nil {
			return fail(err)
		}
		for _, s := range skipped {
			o.Log.Warn("not readable: left out of the content manifest", "pvc", ref, "path", s.Path, "reason", s.Reason)
		}
		content = &ContentManifest{Version: 1, RunID: o.RunID, Namespace: v.Namespace, PVC: v.PVC, PV: v.PV, Kind: v.Kind, Created: o.Now().UTC(), Files: files, Skipped: skipped}
		vr.Files, vr.Skipped = len(files), skipped
	}
	if v.Kind == KindHostPath {
		return o.hostPath(ctx, v, content, vr), nil
	}
	if content != nil && o.Store != nil {
		vr.ContentManifest = ContentKey(v, o.RunID)
		if err := PutContent(ctx, o.Store, vr.ContentManifest, content); err != nil && !errors.Is(err, store.ErrExists) {
			return fail(err)
		}
	}
	if ebs, ok := backend.(*EBS); ok && o.Captured != nil {
		a, err := ebs.start(ctx, v, o.RunID, vr.ContentManifest)
		if err != nil {
			vr.Artifacts = append(vr.Artifacts, a)
			return fail(err)
		}
		return vr, &started{ebs: ebs, v: v, a: a, tags: tagsFor(v, ebs.Cluster, o.RunID, vr.ContentManifest)}
	}
	a, err := backend.Snapshot(ctx, v, o.RunID, vr.ContentManifest)
	vr.Artifacts = append(vr.Artifacts, a)
	if err != nil {
		return fail(err)
	}
	if !o.Retention.IsZero() {
		if vr.Pruned, err = backend.Prune(ctx, v, o.Retention, false, o.Location); err != nil {
			return fail(fmt.Errorf("backed up, but retention failed: %w", err))
		}
	}
	vr.Status = outcome.StatusOK
	return vr, nil
}

// backend is what EBS and EFS have in common.
type backend interface {
	Snapshot(ctx context.Context, v Volume, runID, manifestKey string) (Artifact, error)
	List(ctx context.Context, v Volume) ([]Artifact, error)
	Prune(ctx context.Context, v Volume, p Policy, dryRun bool, loc *time.Location) ([]Artifact, error)
}

func (o *Options) backend(v Volume) (backend, error) {
	switch v.Kind {
	case KindEBS:
		if o.EBS == nil {
			return nil, fmt.Errorf("PVC %s is an EBS volume (%s) but EC2 is not configured", v.Ref(), v.VolumeID)
		}
		return o.EBS, nil
	case KindEFS:
		if o.EFS == nil || o.EFS.Vault == "" || o.EFS.IAMRole == "" || o.EFS.Account == "" {
			return nil, fmt.Errorf("PVC %s is an EFS file system (%s): set --efs-vault, --efs-role-arn and --aws-account-id", v.Ref(), v.FileSystemID)
		}
		return o.EFS, nil
	case KindHostPath:
		if _, ok := o.Mount[v.Ref()]; !ok {
			return nil, fmt.Errorf("PVC %s is a hostPath/local volume (%s): mount it in the archiver pod and pass --mount %s=/path", v.Ref(), v.HostPath, v.Ref())
		}
		if o.Store == nil {
			return nil, fmt.Errorf("PVC %s is a hostPath/local volume: --dest is needed to store its tar", v.Ref())
		}
		return nil, nil
	}
	return nil, fmt.Errorf("PVC %s: %w %q", v.Ref(), ErrUnsupported, v.Kind)
}

func (o *Options) hostPath(ctx context.Context, v Volume, content *ContentManifest, vr VolumeResult) VolumeResult {
	key := TarKey(v, o.RunID)
	tar, err := TarVolume(ctx, o.Store, key, o.Mount[v.Ref()], content.Files, o.RunID)
	if err != nil {
		vr.Error = err.Error()
		return vr
	}
	content.Tar = tar
	vr.ContentManifest = ContentKey(v, o.RunID)
	if err := PutContent(ctx, o.Store, vr.ContentManifest, content); err != nil {
		vr.Error = err.Error()
		return vr
	}
	vr.Artifacts = append(vr.Artifacts, Artifact{Kind: "tar", ID: key, State: "completed", SizeBytes: tar.StoredSize, Started: content.Created, RunID: o.RunID})
	vr.Status = outcome.StatusOK
	return vr
}

// List returns, per PVC, what archiver has made of it.
func List(ctx context.Context, o Options) ([]VolumeResult, error) {
	o.defaults()
	var out []VolumeResult
	for _, ref := range o.PVCs {
		vr := VolumeResult{PVC: ref, Status: outcome.StatusFailed}
		ns, name, err := ParseRef(ref)
		if err == nil {
			var v Volume
			if v, err = Resolve(ctx, o.Kube, ns, name); err == nil {
				vr.Volume = &v
				var b backend
				if b, err = o.backend(v); err == nil && b != nil {
					vr.Artifacts, err = b.List(ctx, v)
				} else if err == nil {
					vr.Artifacts, err = o.listTars(ctx, v)
				}
			}
		}
		if err != nil {
			vr.Error = err.Error()
		} else {
			vr.Status = outcome.StatusOK
		}
		out = append(out, vr)
	}
	return out, nil
}

func (o *Options) listTars(ctx context.Context, v Volume) ([]Artifact, error) {
	var out []Artifact
	prefix := fmt.Sprintf("volumes/%s/%s/", v.Namespace, v.PVC)
	err := o.Store.List(ctx, prefix, func(obj store.Object) error {
		if len(obj.Key) > len(".tar.zst") && obj.Key[len(obj.Key)-len(".tar.zst"):] == ".tar.zst" {
			run := obj.Key[len(prefix) : len(obj.Key)-len(".tar.zst")]
			out = append(out, Artifact{Kind: "tar", ID: obj.Key, State: "completed", SizeBytes: obj.Size, Started: obj.LastModified, RunID: run})
		}
		return nil
	})
	return out, err
}
