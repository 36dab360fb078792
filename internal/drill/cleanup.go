package drill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// object is one scratch object to delete.
type object struct {
	kind, ns, name string
	del            func(context.Context) error
}

func (o object) String() string {
	if o.ns == "" {
		return o.kind + "/" + o.name
	}
	return o.kind + "/" + o.ns + "/" + o.name
}

// objects lists the kinds a drill creates, pod first so that the claim is
// released before it is deleted.
func objects(kube kubernetes.Interface, snap snapclient.Interface, ns, name string, cluster bool) []object {
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg}
	out := []object{
		{"Pod", ns, name, func(ctx context.Context) error { return kube.CoreV1().Pods(ns).Delete(ctx, name, opts) }},
		{"PersistentVolumeClaim", ns, name, func(ctx context.Context) error {
			return kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, name, opts)
		}},
		{"VolumeSnapshot", ns, name, func(ctx context.Context) error {
			return snap.SnapshotV1().VolumeSnapshots(ns).Delete(ctx, name, opts)
		}},
		{"ConfigMap", ns, name, func(ctx context.Context) error { return kube.CoreV1().ConfigMaps(ns).Delete(ctx, name, opts) }},
	}
	if cluster {
		out = append(out,
			object{"VolumeSnapshotContent", "", name, func(ctx context.Context) error {
				return snap.SnapshotV1().VolumeSnapshotContents().Delete(ctx, name, opts)
			}},
			object{"PersistentVolume", "", name, func(ctx context.Context) error { return kube.CoreV1().PersistentVolumes().Delete(ctx, name, opts) }})
	}
	return out
}

// track records an object this drill created; kept marks the PVC/PV of a
// real recovery, removed only when the recovery fails.
func (d *drill) track(kind, ns, name string, kept bool) {
	for _, o := range objects(d.o.Kube, d.o.Snap, ns, name, true) {
		if o.kind == kind {
			if kept {
				d.kept = append(d.kept, o)
			} else {
				d.created = append(d.created, o)
			}
		}
	}
}

// cleanup deletes what this drill created, newest first (the pod before
// its claim), never a kept PVC/PV of a successful recovery. The
// VolumeSnapshotContent's Retain policy keeps the AWS snapshot; a scratch
// volume provisioned with a Retain class is switched to Delete first, so
// the EBS volume goes with its claim.
func (d *drill) cleanup(ctx context.Context, failed bool) ([]string, error) {
	all := d.created
	if failed {
		all = append(append([]object(nil), d.created...), d.kept...)
	}
	var deleted []string
	var errs []error
	for i := len(all) - 1; i >= 0; i-- {
		o := all[i]
		claim := o.name
		if o.kind == "Pod" {
			claim = ephemeralClaim(o.name)
		}
		if o.kind == "PersistentVolumeClaim" || o.kind == "Pod" {
			if err := d.reclaim(ctx, o.ns, claim); err != nil {
				errs = append(errs, err)
			}
		}
		err := o.del(ctx)
		switch {
		case err == nil:
			deleted = append(deleted, o.String())
		case apierrors.IsNotFound(err):
		default:
			errs = append(errs, fmt.Errorf("delete %s: %w", o, err))
		}
	}
	return deleted, errors.Join(errs...)
}

// reclaim makes the volume provisioned for a claim archiver is about to
// delete go with it, whatever the storage class's reclaim policy.
func (d *drill) reclaim(ctx context.Context, ns, claim string) error {
	return reclaim(ctx, d.o.Kube, ns, claim)
}

// ephemeralClaim is the claim Kubernetes makes for a pod's generic
// ephemeral volume "restore" (the S3 variant's scratch volume).
func ephemeralClaim(pod string) string { return pod + "-restore" }

// reclaim switches the PV provisioned for claim to Delete. Only a volume
// a provisioner made for exactly this claim qualifies: the claim is
// restored from a snapshot or is a pod's ephemeral claim, the PV names
// the claim's UID and carries the provisioned-by annotation. The static
// PV of an EFS restore (the production file system) never does.
func reclaim(ctx context.Context, kube kubernetes.Interface, ns, claim string) error {
	pvc, err := kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{})
	if err != nil || pvc.Spec.VolumeName == "" {
		return nil
	}
	ephemeral := false
	for _, o := range pvc.OwnerReferences {
		ephemeral = ephemeral || o.Kind == "Pod"
	}
	if pvc.Spec.DataSource == nil && !ephemeral {
		return nil
	}
	pv, err := kube.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil || pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != pvc.UID || pv.Annotations[annProvisionedBy] == "" ||
		pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete {
		return nil // not provisioned for this claim, or already Delete
	}
	patch := []byte(`{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}`)
	if _, err := kube.CoreV1().PersistentVolumes().Patch(ctx, pv.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("set reclaim policy Delete on %s (provisioned for the scratch claim): %w", pv.Name, err)
	}
	return nil
}

// annProvisionedBy is set by the external provisioner on the PVs it makes.
const annProvisionedBy = "pv.kubernetes.io/provisioned-by"

// Sweep deletes the scratch objects of drills whose deadline has passed
// (archiver was killed, or its cleanup failed) in ns and cluster-wide.
// A VolumeSnapshot API that is not installed is not an error.
func Sweep(ctx context.Context, kube kubernetes.Interface, snap snapclient.Interface, ns string, now time.Time, log *slog.Logger) ([]string, error) {
	sel := metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + ManagedBy + "," + LabelComponent + "=" + ComponentDrill}
	expired := func(m metav1.ObjectMeta) bool {
		t, err := time.Parse(time.RFC3339, m.Annotations[AnnotationDeadline])
		return err == nil && now.After(t)
	}
	type found struct {
		ns, name string
		cluster  bool
	}
	var stale []found
	add := func(m metav1.ObjectMeta, cluster bool) {
		if expired(m) {
			stale = append(stale, found{m.Namespace, m.Name, cluster})
		}
	}
	var errs []error
	if l, err := kube.CoreV1().Pods(ns).List(ctx, sel); err == nil {
		for _, o := range l.Items {
			add(o.ObjectMeta, false)
		}
	} else {
		errs = append(errs, err)
	}
	if l, err := kube.CoreV1().ConfigMaps(ns).List(ctx, sel); err == nil {
		for _, o := range l.Items {
			add(o.ObjectMeta, false)
		}
	} else {
		errs = append(errs, err)
	}
	if l, err := kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, sel); err == nil {
		for _, o := range l.Items {
			add(o.ObjectMeta, false)
		}
	} else {
		errs = append(errs, err)
	}
	if l, err := snap.SnapshotV1().VolumeSnapshots(ns).List(ctx, sel); err == nil {
		for _, o := range l.Items {
			add(o.ObjectMeta, false)
		}
	} else if !apierrors.IsNotFound(err) {
		errs = append(errs, err)
	}
	if l, err := snap.SnapshotV1().VolumeSnapshotContents().List(ctx, sel); err == nil {
		for _, o := range l.Items {
			add(o.ObjectMeta, true)
		}
	} else if apierrors.IsForbidden(err) {
		log.Warn("cannot list VolumeSnapshotContents: leftovers of crashed EBS drills are not swept", "error", err)
	} else if !apierrors.IsNotFound(err) {
		errs = append(errs, err)
	}
	if l, err := kube.CoreV1().PersistentVolumes().List(ctx, sel); err == nil {
		for _, o := range l.Items {
			add(o.ObjectMeta, true)
		}
	} else if apierrors.IsForbidden(err) {
		log.Warn("cannot list PersistentVolumes: leftovers of crashed EFS drills are not swept", "error", err)
	} else if !apierrors.IsNotFound(err) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var deleted []string
	seen := map[string]bool{}
	for _, f := range stale {
		for _, o := range objects(kube, snap, ns, f.name, true) {
			if (o.ns == "") != f.cluster || seen[o.String()] {
				continue
			}
			seen[o.String()] = true
			switch o.kind {
			case "Pod":
				if err := reclaim(ctx, kube, o.ns, ephemeralClaim(o.name)); err != nil {
					errs = append(errs, err)
				}
			case "PersistentVolumeClaim":
				if err := reclaim(ctx, kube, o.ns, o.name); err != nil {
					errs = append(errs, err)
				}
			}
			err := o.del(ctx)
			switch {
			case err == nil:
				deleted = append(deleted, o.String())
			case apierrors.IsNotFound(err):
			default:
				errs = append(errs, fmt.Errorf("delete %s: %w", o, err))
			}
		}
	}
	return deleted, errors.Join(errs...)
}
