package restoretest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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

// Kinds a drill creates, in the order a sweep deletes them (a pod before
// the claim it mounts).
var (
	namespacedKinds = []string{"Pod", "PersistentVolumeClaim", "VolumeSnapshot", "ConfigMap"}
	clusterKinds    = []string{"VolumeSnapshotContent", "PersistentVolume"}
)

// newObject is the object kind/ns/name with its delete call.
func newObject(kube kubernetes.Interface, snap snapclient.Interface, kind, ns, name string) object {
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg}
	o := object{kind: kind, ns: ns, name: name}
	switch kind {
	case "Pod":
		o.del = func(ctx context.Context) error { return kube.CoreV1().Pods(ns).Delete(ctx, name, opts) }
	case "PersistentVolumeClaim":
		o.del = func(ctx context.Context) error {
			return kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, name, opts)
		}
	case "VolumeSnapshot":
		o.del = func(ctx context.Context) error { return snap.SnapshotV1().VolumeSnapshots(ns).Delete(ctx, name, opts) }
	case "ConfigMap":
		o.del = func(ctx context.Context) error { return kube.CoreV1().ConfigMaps(ns).Delete(ctx, name, opts) }
	case "VolumeSnapshotContent":
		o.del = func(ctx context.Context) error {
			return snap.SnapshotV1().VolumeSnapshotContents().Delete(ctx, name, opts)
		}
	case "PersistentVolume":
		o.del = func(ctx context.Context) error { return kube.CoreV1().PersistentVolumes().Delete(ctx, name, opts) }
	default: // every caller names one of the kinds above; say so if not
		o.del = func(context.Context) error {
			return fmt.Errorf("drill: cannot delete %s %s/%s: unknown kind", kind, ns, name)
		}
	}
	return o
}

// track records an object this drill created; kept marks the PVC/PV of a
// real recovery, removed only when the recovery fails.
func (d *drill) track(kind, ns, name string, kept bool) {
	o := newObject(d.o.Kube, d.o.Snap, kind, ns, name)
	if kept {
		d.kept = append(d.kept, o)
	} else {
		d.created = append(d.created, o)
	}
}

// cleanup deletes what this drill created, newest first (the pod before
// its claim), never a kept PVC/PV of a successful recovery. The
// VolumeSnapshotContent's Retain policy keeps the AWS snapshot.
func (d *drill) cleanup(ctx context.Context, failed bool) ([]string, error) {
	all := d.created
	if failed {
		all = append(append([]object(nil), d.created...), d.kept...)
	}
	slices.Reverse(all)
	return remove(ctx, d.o.Kube, all)
}

// remove deletes objs in order; gone already is fine. A scratch volume
// provisioned with a Retain class is switched to Delete before its claim
// (or the pod owning its ephemeral claim) goes, so the EBS volume goes too.
func remove(ctx context.Context, kube kubernetes.Interface, objs []object) ([]string, error) {
	var deleted []string
	var errs []error
	for _, o := range objs {
		claim := ""
		switch o.kind {
		case "Pod":
			claim = ephemeralClaim(o.name)
		case "PersistentVolumeClaim":
			claim = o.name
		}
		if claim != "" {
			if err := reclaim(ctx, kube, o.ns, claim); err != nil {
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
// A VolumeSnapshot API that is not installed is not an error; a
// cluster-wide list archiver may not make is logged and skipped.
func Sweep(ctx context.Context, kube kubernetes.Interface, snap snapclient.Interface, ns string, now time.Time, log *slog.Logger) ([]string, error) {
	sel := metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + ManagedBy + "," + LabelComponent + "=" + ComponentDrill}
	lists := []struct {
		kind string
		list func() ([]metav1.Object, error)
	}{
		{"Pod", func() ([]metav1.Object, error) { l, err := kube.CoreV1().Pods(ns).List(ctx, sel); return each(l, err) }},
		{"ConfigMap", func() ([]metav1.Object, error) {
			l, err := kube.CoreV1().ConfigMaps(ns).List(ctx, sel)
			return each(l, err)
		}},
		{"PersistentVolumeClaim", func() ([]metav1.Object, error) {
			l, err := kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, sel)
			return each(l, err)
		}},
		{"VolumeSnapshot", func() ([]metav1.Object, error) {
			l, err := snap.SnapshotV1().VolumeSnapshots(ns).List(ctx, sel)
			return each(l, err)
		}},
		{"VolumeSnapshotContent", func() ([]metav1.Object, error) {
			l, err := snap.SnapshotV1().VolumeSnapshotContents().List(ctx, sel)
			return each(l, err)
		}},
		{"PersistentVolume", func() ([]metav1.Object, error) {
			l, err := kube.CoreV1().PersistentVolumes().List(ctx, sel)
			return each(l, err)
		}},
	}
	staleNS, staleCluster := map[string]bool{}, map[string]bool{}
	var errs []error
	for _, l := range lists {
		items, err := l.list()
		cluster := slices.Contains(clusterKinds, l.kind)
		switch {
		case err == nil:
		case apierrors.IsNotFound(err) && strings.HasPrefix(l.kind, "VolumeSnapshot"): // CRDs not installed
			continue
		case apierrors.IsForbidden(err) && cluster:
			log.Warn("cannot list "+l.kind+"s: leftovers of crashed drills of that kind are not swept", "error", err)
			continue
		default:
			errs = append(errs, fmt.Errorf("list %ss: %w", l.kind, err))
			continue
		}
		for _, m := range items {
			t, err := time.Parse(time.RFC3339, m.GetAnnotations()[AnnotationDeadline])
			if err != nil || !now.After(t) {
				continue // a drill that may still be running
			}
			if cluster {
				staleCluster[m.GetName()] = true
			} else {
				staleNS[m.GetName()] = true
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Every kind of a stale drill shares its name.
	var objs []object
	for _, name := range slices.Sorted(maps.Keys(staleNS)) {
		for _, k := range namespacedKinds {
			objs = append(objs, newObject(kube, snap, k, ns, name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(staleCluster)) {
		for _, k := range clusterKinds {
			objs = append(objs, newObject(kube, snap, k, "", name))
		}
	}
	return remove(ctx, kube, objs)
}

// each turns a typed list into its items' metadata.
func each(l runtime.Object, err error) ([]metav1.Object, error) {
	if err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(l)
	if err != nil {
		return nil, err
	}
	out := make([]metav1.Object, 0, len(items))
	for _, it := range items {
		m, err := meta.Accessor(it)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
