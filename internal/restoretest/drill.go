package restoretest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/xroad-archiver/archiver/internal/dircheck"
	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/store"
)

// Errors a drill ends with besides dircheck.ErrFailed (the restored files
// do not match, exit 4).
var (
	// ErrTimeout: the restore or the verifier pod did not finish in time;
	// the message carries the scheduling or provisioning reason.
	ErrTimeout = errors.New("restore test timed out")
	// ErrNoBackup: nothing to restore (no completed backup with a content
	// manifest).
	ErrNoBackup = errors.New("no backup to restore")
)

// Backup is the snapshot or recovery point a drill restores.
type Backup struct {
	Kind      string    `json:"kind"` // ebs-snapshot, recovery-point
	ID        string    `json:"id"`
	RunID     string    `json:"run_id"` // the snapshot run that made it
	Started   time.Time `json:"started"`
	SizeBytes int64     `json:"size_bytes,omitempty"`
}

// Options configure a drill.
type Options struct {
	Kube  kubernetes.Interface
	Snap  snapclient.Interface // VolumeSnapshots (EBS)
	EFS   *EFSRestore          // nil: EFS volumes cannot be drilled
	Store store.Reader         // where the content manifests are

	Source snapshot.Volume // the PVC whose backup is restored
	Backup Backup
	// Archives, when set, replaces Source and Backup: restore the shipped
	// archives from S3 instead of a volume snapshot.
	Archives *Archives

	Namespace     string // scratch namespace (default: the source's)
	StorageClass  string // scratch PVC's class (default: the source PVC's)
	SnapshotClass string // VolumeSnapshotClass (optional)
	EFSPath       string // path of the volume inside the EFS file system, when the PVC uses an access point
	Image         string // archiver image for the verifier pod
	RunAsUser     int64  // verifier's uid/gid (default 999, X-Road's, so it can read the files)
	Resources     corev1.ResourceRequirements
	Timeout       time.Duration // whole drill (default 30m)
	// Keep names the PVC of a real recovery (in Namespace): it is created
	// under this name, verified and left in place.
	Keep string
	// GPG, when set, gives the verifier pod the operator's key material
	// for .zip.gpg archives (without it they are checked for integrity
	// only).
	GPG *GPGSecret
	// Admit, when set, changes the verifier pod before it is created, as
	// the cluster's mutating admission would (EKS Pod Identity or IRSA
	// adding the pod's AWS credentials, a policy adding host networking).
	// archiver itself never sets it; tests on a node without those
	// webhooks do (see internal/testenv/e2e).
	Admit func(*corev1.Pod)

	RunID string
	Poll  time.Duration // default 2s
	Now   func() time.Time
	Log   *slog.Logger
}

// Result is the outcome of a drill.
type Result struct {
	RunID     string           `json:"run_id"`
	Source    string           `json:"source_pvc"`
	Kind      string           `json:"volume_kind"`
	Backup    Backup           `json:"backup"`
	Namespace string           `json:"namespace"`
	Status    outcome.Status   `json:"status"` // ok, failed (verification), error
	Error     string           `json:"error,omitempty"`
	PVC       string           `json:"restored_pvc,omitempty"` // kept (real recovery)
	Check     *dircheck.Result `json:"check,omitempty"`
	// RestoreSec is from the first restore call to the scratch PVC being
	// bound; VerifySec the verifier pod's run; TotalSec the whole drill up
	// to a verified volume (the measured recovery time).
	RestoreSec float64 `json:"restore_seconds"`
	VerifySec  float64 `json:"verify_seconds"`
	TotalSec   float64 `json:"total_seconds"`
	// LeftOnEFS is the recovery directory an EFS restore job wrote into the
	// file system (FSID:/aws-backup-restore_...); archiver does not delete
	// data on the production file system, so it is named here instead.
	LeftOnEFS string   `json:"left_on_efs,omitempty"`
	Deleted   []string `json:"deleted,omitempty"` // this drill's scratch objects, removed
	// CleanupError: some objects could not be deleted (the next drill
	// sweeps them after their deadline).
	CleanupError string   `json:"cleanup_error,omitempty"`
	Leftovers    []string `json:"leftovers,omitempty"` // earlier crashed drills' objects, removed
}

type drill struct {
	o            Options
	src          snapshot.Volume
	backup       Backup
	ns           string
	n            names
	deadline     time.Time
	storageClass string
	size         int64
	efsPath      string
	efsFS        string    // the file system the restore job wrote into
	efsJobStart  time.Time // when the restore job was created
	efsKept      []string  // recovery directories of kept recoveries on that file system
	res          *Result
	created      []object // scratch objects, deleted after the drill
	kept         []object // a real recovery's PVC/PV: deleted only if it fails
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RunAsUser == 0 {
		o.RunAsUser = DefaultRunAsUser
	}
	if o.Resources.Limits == nil && o.Resources.Requests == nil {
		o.Resources = DefaultResources()
	}
	if o.Namespace == "" {
		o.Namespace = o.Source.Namespace
	}
	if o.Archives != nil {
		o.Source = snapshot.Volume{Kind: KindArchives, PVC: o.Archives.Dest}
	}
}

// KindArchives is the Result.Kind of the S3 variant.
const KindArchives = "s3-archives"

// Run restores o.Backup of o.Source, verifies it and cleans up. The error
// wraps dircheck.ErrFailed when files differ, ErrTimeout when something
// never became ready; the Result is filled in either way.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	start := o.Now()
	d := &drill{o: o, src: o.Source, backup: o.Backup, ns: o.Namespace, n: newNames(o.RunID, o.Source.Ref()),
		deadline: start.Add(o.Timeout + min(cleanupGrace, o.Timeout))}
	d.res = &Result{RunID: o.RunID, Source: o.Source.Ref(), Kind: o.Source.Kind, Backup: o.Backup, Namespace: d.ns, Status: outcome.StatusError}
	if o.Archives != nil {
		d.res.Source = o.Archives.Dest
		if o.Namespace == "" {
			return d.fail(errors.New("the S3 restore test needs a scratch namespace (--namespace)"))
		}
	}
	if o.Image == "" {
		return d.res, errors.New("no verifier image: set --image (or $ARCHIVER_IMAGE) to the archiver image")
	}
	if o.GPG != nil {
		if err := o.GPG.Check(); err != nil {
			return d.res, err
		}
	}
	if err := d.prepare(ctx); err != nil {
		return d.fail(err)
	}
	tctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var err error
	if o.Archives != nil {
		err = d.runArchives(tctx, start)
	} else {
		err = d.run(tctx, start)
	}
	if err = d.finish(ctx, err); err != nil {
		d.res.TotalSec = o.Now().Sub(start).Seconds()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil && !errors.Is(err, ErrTimeout) {
			err = fmt.Errorf("%w after %s: %w", ErrTimeout, o.Timeout, err)
		}
		return d.fail(err)
	}
	d.res.TotalSec = o.Now().Sub(start).Seconds()
	d.res.Status = outcome.StatusOK
	return d.res, nil
}

// prepare refuses to replace an existing PVC a recovery would keep, and
// sweeps earlier drills that crashed (their deadline has passed).
func (d *drill) prepare(ctx context.Context) error {
	if keep := d.o.Keep; keep != "" {
		d.res.PVC = d.ns + "/" + keep
		_, err := d.o.Kube.CoreV1().PersistentVolumeClaims(d.ns).Get(ctx, keep, metav1.GetOptions{})
		if err == nil {
			return fmt.Errorf("PVC %s/%s already exists: choose another name (nothing is overwritten)", d.ns, keep)
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("check PVC %s/%s: %w", d.ns, keep, err)
		}
	}
	sctx, scancel := context.WithTimeout(ctx, cleanupGrace)
	defer scancel()
	left, err := Sweep(sctx, d.o.Kube, d.o.Snap, d.ns, d.o.Now(), d.o.Log)
	d.res.Leftovers = left
	if err != nil {
		return fmt.Errorf("remove leftovers of earlier drills: %w", err)
	}
	return nil
}

// finish deletes what the drill created, even when ctx was cancelled
// (SIGTERM: cleanup gets its own bounded context), and says what became
// of a failed recovery's PVC. It returns the drill's error err, or the
// cleanup's when the drill verified.
func (d *drill) finish(ctx context.Context, err error) error {
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupGrace)
	defer ccancel()
	deleted, cerr := d.cleanup(cctx, err != nil)
	d.res.Deleted = deleted
	if cerr != nil {
		d.res.CleanupError = cerr.Error()
	}
	if err != nil && d.o.Keep != "" && len(d.kept) > 0 {
		removed := false
		for _, x := range deleted {
			removed = removed || x == "PersistentVolumeClaim/"+d.ns+"/"+d.o.Keep
		}
		if removed {
			err = fmt.Errorf("%w (the restored PVC %s was removed: it is not verified)", err, d.res.PVC)
			d.res.PVC = ""
		} else {
			err = fmt.Errorf("%w (the restored PVC %s is NOT verified and could not be removed: do not use it)", err, d.res.PVC)
		}
	} else if err != nil {
		d.res.PVC = ""
	}
	if err == nil && cerr != nil {
		return fmt.Errorf("verified, but cleanup failed (the next drill retries it): %w", cerr)
	} else if cerr != nil {
		d.o.Log.Warn("cleanup failed; the next drill retries it", "error", cerr)
	}
	return err
}

// cleanupGrace bounds the cleanup after a drill; it (or the timeout, when
// shorter) is added to the deadline after which a later drill treats the
// objects as leftovers of a crashed one.
const cleanupGrace = time.Minute

func (d *drill) fail(err error) (*Result, error) {
	d.res.Error = err.Error()
	if errors.Is(err, dircheck.ErrFailed) {
		d.res.Status = outcome.StatusFailed
	}
	return d.res, err
}

func (d *drill) run(ctx context.Context, start time.Time) error {
	m, err := snapshot.LoadContent(ctx, d.o.Store, snapshot.ContentKey(d.src, d.backup.RunID))
	if err != nil {
		return fmt.Errorf("content manifest of %s (run %s): %w", d.backup.ID, d.backup.RunID, err)
	}
	if len(m.Files) == 0 {
		return fmt.Errorf("the content manifest of %s (run %s) lists no files: nothing to verify (run archiver snapshot with --mount on the volume)", d.backup.ID, d.backup.RunID)
	}
	data, err := dircheck.EncodeManifest(m)
	if err != nil {
		return err
	}
	if len(data) > 1000<<10 {
		return fmt.Errorf("content manifest of %s is %d KiB compressed, more than a ConfigMap holds (1 MiB)", d.backup.ID, len(data)>>10)
	}
	d.size = max(d.src.SizeBytes, d.backup.SizeBytes, 1<<30)
	claim := d.n.base
	keepMeta := d.keptMeta(d.o.Keep, d.ns)
	switch d.src.Kind {
	case snapshot.KindEBS:
		if d.storageClass = d.o.StorageClass; d.storageClass == "" {
			if d.storageClass, err = d.sourceClass(ctx); err != nil {
				return err
			}
		}
		if d.o.Keep != "" {
			claim = d.o.Keep
		}
		if err := d.restoreEBS(ctx, claim, keepMeta); err != nil {
			return err
		}
	case snapshot.KindEFS:
		if d.o.EFS == nil {
			return fmt.Errorf("PVC %s is on EFS: AWS Backup is not configured (set --efs-role-arn)", d.src.Ref())
		}
		if d.efsPath, err = d.efsItemPath(); err != nil {
			return err
		}
		if err := d.restoreEFS(ctx); err != nil {
			return err
		}
	default:
		return fmt.Errorf("PVC %s is a %s volume: restore tests cover EBS snapshots and EFS recovery points (hostPath tars: archiver restore)", d.src.Ref(), d.src.Kind)
	}
	if _, err := d.o.Kube.CoreV1().ConfigMaps(d.ns).Create(ctx, d.manifestConfigMap(data), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create ConfigMap %s/%s: %w", d.ns, d.n.base, err)
	}
	d.track("ConfigMap", d.ns, d.n.base, false)
	dl, _ := ctx.Deadline()
	if _, err := d.o.Kube.CoreV1().Pods(d.ns).Create(ctx, d.admit(d.verifierPod(claim, time.Until(dl))), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create verifier pod %s/%s: %w", d.ns, d.n.base, err)
	}
	d.track("Pod", d.ns, d.n.base, false)
	d.o.Log.Info("verifier pod created", "pod", d.ns+"/"+d.n.base, "claim", claim, "backup", d.backup.ID)
	bound, check, err := d.waitPod(ctx, claim, start)
	d.res.RestoreSec = bound.Sub(start).Seconds()
	d.res.VerifySec = d.o.Now().Sub(bound).Seconds()
	d.res.Check = check
	if err != nil {
		return err
	}
	if err := check.Err(); err != nil {
		return err
	}
	if d.src.Kind == snapshot.KindEFS && check.Dir != "" {
		top, _, _ := strings.Cut(check.Dir, "/")
		d.res.LeftOnEFS = d.efsFS + ":/" + top
	}
	if d.o.Keep != "" && d.src.Kind == snapshot.KindEFS {
		return d.keepEFS(ctx, check.Dir, keepMeta)
	}
	return nil
}

func (d *drill) sourceClass(ctx context.Context) (string, error) {
	pvc, err := d.o.Kube.CoreV1().PersistentVolumeClaims(d.src.Namespace).Get(ctx, d.src.PVC, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("get PVC %s: %w", d.src.Ref(), err)
	}
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName == "" {
		return "", fmt.Errorf("PVC %s has no storage class: set --storage-class to an ebs.csi.aws.com class", d.src.Ref())
	}
	return *pvc.Spec.StorageClassName, nil
}

// restoreEBS creates the VolumeSnapshotContent, the VolumeSnapshot and the
// claim, and waits for the snapshot to be ready to use.
func (d *drill) restoreEBS(ctx context.Context, claim string, keep metav1.ObjectMeta) error {
	snaps := d.o.Snap.SnapshotV1()
	if _, err := snaps.VolumeSnapshotContents().Create(ctx, d.volumeSnapshotContent(), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create VolumeSnapshotContent %s: %w", d.n.vsc, err)
	}
	d.track("VolumeSnapshotContent", "", d.n.vsc, false)
	if _, err := snaps.VolumeSnapshots(d.ns).Create(ctx, d.volumeSnapshot(), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create VolumeSnapshot %s/%s: %w", d.ns, d.n.base, err)
	}
	d.track("VolumeSnapshot", d.ns, d.n.base, false)
	meta := d.meta(claim, d.ns)
	if d.o.Keep != "" {
		meta = keep
	}
	if _, err := d.o.Kube.CoreV1().PersistentVolumeClaims(d.ns).Create(ctx, d.ebsClaim(meta), metav1.CreateOptions{}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("PVC %s/%s already exists: choose another name (nothing is overwritten)", d.ns, claim)
		}
		return fmt.Errorf("create PVC %s/%s: %w", d.ns, claim, err)
	}
	d.track("PersistentVolumeClaim", d.ns, claim, d.o.Keep != "")
	// The snapshot-controller retries; an error that persists (the
	// snapshot does not exist, the driver is missing) ends the drill
	// before its timeout.
	var erring time.Time
	dl, _ := ctx.Deadline()
	grace := min(snapshotErrorGrace, time.Until(dl)/3)
	return d.poll(ctx, "VolumeSnapshot "+d.ns+"/"+d.n.base+" to be ready", func(ctx context.Context) (bool, string, error) {
		vs, err := snaps.VolumeSnapshots(d.ns).Get(ctx, d.n.base, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		st := vs.Status
		if st == nil {
			return false, "no status yet (is the snapshot-controller installed?)", nil
		}
		if st.ReadyToUse != nil && *st.ReadyToUse {
			return true, "", nil
		}
		if st.Error != nil && st.Error.Message != nil {
			if erring.IsZero() {
				erring = d.o.Now()
			}
			if d.o.Now().Sub(erring) >= grace {
				return false, "", terminalError{fmt.Errorf("VolumeSnapshot %s/%s of %s failed: %s", d.ns, d.n.base, d.backup.ID, *st.Error.Message)}
			}
			return false, "error: " + *st.Error.Message, nil
		}
		erring = time.Time{}
		return false, "not ready to use", nil
	})
}

// snapshotErrorGrace is how long a VolumeSnapshot may report an error
// before the drill gives up on it (at most a third of the time left).
const snapshotErrorGrace = 2 * time.Minute

// poll calls check until it reports done, returning ErrTimeout with the
// last reason when ctx ends.
func (d *drill) poll(ctx context.Context, what string, check func(context.Context) (bool, string, error)) error {
	t := time.NewTicker(d.o.Poll)
	defer t.Stop()
	reason := ""
	for {
		done, why, err := check(ctx)
		var final terminalError
		if err != nil && (errors.As(err, &final) || ctx.Err() == nil && !nearDeadline(ctx, d.o.Poll)) {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if done {
			return nil
		}
		if why != "" {
			reason = why
		}
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("%w waiting for %s: %s", ErrTimeout, what, reason)
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

// terminalError is a check's verdict (a restore job FAILED), reported as
// is even when the deadline is near.
type terminalError struct{ err error }

func (t terminalError) Error() string { return t.err.Error() }
func (t terminalError) Unwrap() error { return t.err }

// nearDeadline: a call failing now may have failed only because ctx ends
// soon (client-go's rate limiter refuses to wait past the deadline).
func nearDeadline(ctx context.Context, poll time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < 2*poll+time.Second
}

// Latest picks the newest completed backup made in region (not a DR copy).
func Latest(arts []snapshot.Artifact, region string) (Backup, error) {
	var ok []snapshot.Artifact
	for _, a := range arts {
		if (a.Kind == "ebs-snapshot" || a.Kind == "recovery-point") && (region == "" || a.Region == region) && a.Completed() && a.RunID != "" {
			ok = append(ok, a)
		}
	}
	if len(ok) == 0 {
		return Backup{}, fmt.Errorf("%w: no completed backup made by archiver", ErrNoBackup)
	}
	sort.Slice(ok, func(i, j int) bool { return ok[i].Started.After(ok[j].Started) })
	return FromArtifact(ok[0]), nil
}

// Find picks the backup with id among arts.
func Find(arts []snapshot.Artifact, id string) (Backup, error) {
	for _, a := range arts {
		if a.ID == id {
			if !a.Completed() {
				return Backup{}, fmt.Errorf("%s is %s, not completed", id, a.State)
			}
			if a.RunID == "" {
				return Backup{}, fmt.Errorf("%s carries no archiver run id: restore tests need the content manifest archiver records", id)
			}
			return FromArtifact(a), nil
		}
	}
	return Backup{}, fmt.Errorf("%w: %s is not one of archiver's backups of this PVC (archiver snapshot list shows them)", ErrNoBackup, id)
}

// FromArtifact turns a listed snapshot or recovery point into a Backup.
func FromArtifact(a snapshot.Artifact) Backup {
	return Backup{Kind: a.Kind, ID: a.ID, RunID: a.RunID, Started: a.Started, SizeBytes: a.SizeBytes}
}

// ErrPartial: some PVCs of a batch passed their restore test, others not.
var ErrPartial = outcome.Partial("some restore tests failed")

// Batch is one scheduled run of restore tests over several PVCs.
type Batch struct {
	Status outcome.Status `json:"status"` // ok, partial, failed
	Drills []*Result      `json:"drills"`
}

// Add records one drill's outcome.
func (b *Batch) Add(r *Result) { b.Drills = append(b.Drills, r) }

// Err summarises the batch: nil when every drill passed, ErrPartial when
// some did, and otherwise an error naming each failure (wrapping
// dircheck.ErrFailed when every failure was a verification failure).
func (b *Batch) Err() error {
	var failed []string
	verifyOnly := true
	for _, r := range b.Drills {
		if r.Status != outcome.StatusOK {
			failed = append(failed, r.Source+": "+r.Error)
			verifyOnly = verifyOnly && r.Status == outcome.StatusFailed
		}
	}
	switch {
	case len(failed) == 0:
		b.Status = outcome.StatusOK
		return nil
	case len(failed) < len(b.Drills):
		b.Status = outcome.StatusPartial
		return fmt.Errorf("%d of %d restore tests failed: %w: %s", len(failed), len(b.Drills), ErrPartial, strings.Join(failed, "; "))
	}
	b.Status = outcome.StatusFailed
	if verifyOnly {
		return fmt.Errorf("%w: %s", dircheck.ErrFailed, strings.Join(failed, "; "))
	}
	return fmt.Errorf("every restore test failed: %s", strings.Join(failed, "; "))
}

// Plan lists the objects a drill with o would create, creating nothing
// (restore-test --dry-run).
func Plan(o Options) []string {
	o.defaults()
	n := newNames(o.RunID, o.Source.Ref())
	ns := o.Namespace
	claim := n.base
	if o.Keep != "" {
		claim = o.Keep
	}
	var out []string
	switch {
	case o.Archives != nil:
		return []string{"Pod/" + ns + "/" + n.base + " (restores " + o.Archives.Dest + " into a scratch volume)"}
	case o.Source.Kind == snapshot.KindEBS:
		out = append(out, "VolumeSnapshotContent/"+n.vsc+" ("+o.Backup.ID+", deletionPolicy Retain)", "VolumeSnapshot/"+ns+"/"+n.base,
			"PersistentVolumeClaim/"+ns+"/"+claim)
	case o.Source.Kind == snapshot.KindEFS:
		out = append(out, "AWS Backup restore job of "+o.Backup.ID, "PersistentVolume/"+n.pv, "PersistentVolumeClaim/"+ns+"/"+n.base)
		if o.Keep != "" {
			out = append(out, "PersistentVolume/archiver-restored-"+n.base[len("archiver-rt-"):], "PersistentVolumeClaim/"+ns+"/"+o.Keep)
		}
	}
	return append(out, "ConfigMap/"+ns+"/"+n.base+" (content manifest of run "+o.Backup.RunID+")", "Pod/"+ns+"/"+n.base+" (verifier)")
}

// admit applies Options.Admit to the verifier pod.
func (d *drill) admit(p *corev1.Pod) *corev1.Pod {
	if d.o.Admit != nil {
		d.o.Admit(p)
	}
	return p
}
