package restoretest

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/snapshot"
)

// Labels and annotations on every object a drill creates.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelComponent = "app.kubernetes.io/component"
	LabelRunID     = "archiver.xroad.io/run-id"
	ManagedBy      = "archiver"
	// ComponentDrill marks scratch objects, deleted after the drill.
	ComponentDrill = "restore-test"
	// ComponentRestored marks the PVC (and PV) of a real recovery, kept.
	ComponentRestored = "restored"

	AnnotationSource   = "archiver.xroad.io/source-pvc"
	AnnotationBackup   = "archiver.xroad.io/backup"
	AnnotationDeadline = "archiver.xroad.io/deadline"
)

// Where the verifier pod sees things.
const (
	MountRestore   = "/restore"
	MountManifest  = "/etc/archiver/manifest"
	ManifestKey    = "manifest.json.zst"
	ContainerName  = "verify"
	snapshotGroup  = "snapshot.storage.k8s.io"
	efsRecoveryDir = "aws-backup-restore_*"
)

// names are the scratch objects of one drill.
type names struct {
	base string // archiver-rt-<hash>: pod, ConfigMap, VolumeSnapshot, scratch PVC
	vsc  string // cluster-scoped: VolumeSnapshotContent
	pv   string // cluster-scoped: the static PV of an EFS restore
}

func newNames(runID, source string) names {
	s := sha256.Sum256([]byte(runID + "\x00" + source))
	b := "archiver-rt-" + hex.EncodeToString(s[:5])
	return names{base: b, vsc: b, pv: b}
}

// meta returns the labels and annotations of a scratch object.
func (d *drill) meta(name, ns string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: name, Namespace: ns,
		Labels: map[string]string{LabelManagedBy: ManagedBy, LabelComponent: ComponentDrill, LabelRunID: d.o.RunID},
		Annotations: map[string]string{
			AnnotationSource: d.src.Ref(), AnnotationBackup: d.backup.ID,
			AnnotationDeadline: d.deadline.UTC().Format(time.RFC3339),
		},
	}
}

// keptMeta is the metadata of a real recovery's PVC/PV: no deadline, so
// no drill ever deletes it.
func (d *drill) keptMeta(name, ns string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: name, Namespace: ns,
		Labels:      map[string]string{LabelManagedBy: ManagedBy, LabelComponent: ComponentRestored, LabelRunID: d.o.RunID},
		Annotations: map[string]string{AnnotationSource: d.src.Ref(), AnnotationBackup: d.backup.ID},
	}
}

// volumeSnapshotContent pre-provisions the EBS snapshot for Kubernetes.
// Retain: deleting it never deletes the AWS snapshot.
func (d *drill) volumeSnapshotContent() *snapv1.VolumeSnapshotContent {
	vsc := &snapv1.VolumeSnapshotContent{
		ObjectMeta: d.meta(d.n.vsc, ""),
		Spec: snapv1.VolumeSnapshotContentSpec{
			DeletionPolicy: snapv1.VolumeSnapshotContentRetain,
			Driver:         snapshot.DriverEBS,
			Source:         snapv1.VolumeSnapshotContentSource{SnapshotHandle: ptr(d.backup.ID)},
			VolumeSnapshotRef: corev1.ObjectReference{
				APIVersion: snapshotGroup + "/v1", Kind: "VolumeSnapshot", Namespace: d.ns, Name: d.n.base,
			},
		},
	}
	if d.o.SnapshotClass != "" {
		vsc.Spec.VolumeSnapshotClassName = ptr(d.o.SnapshotClass)
	}
	return vsc
}

func (d *drill) volumeSnapshot() *snapv1.VolumeSnapshot {
	vs := &snapv1.VolumeSnapshot{
		ObjectMeta: d.meta(d.n.base, d.ns),
		Spec:       snapv1.VolumeSnapshotSpec{Source: snapv1.VolumeSnapshotSource{VolumeSnapshotContentName: ptr(d.n.vsc)}},
	}
	if d.o.SnapshotClass != "" {
		vs.Spec.VolumeSnapshotClassName = ptr(d.o.SnapshotClass)
	}
	return vs
}

// ebsClaim is the PVC restored from the VolumeSnapshot.
func (d *drill) ebsClaim(meta metav1.ObjectMeta) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: meta,
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr(d.storageClass),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: *resource.NewQuantity(d.size, resource.BinarySI)}},
			DataSource:       &corev1.TypedLocalObjectReference{APIGroup: ptr(snapshotGroup), Kind: "VolumeSnapshot", Name: d.n.base},
		},
	}
}

// efsVolume is a static PV of the EFS file system the restore job wrote
// into; handle is FSID or FSID:/path.
func (d *drill) efsVolume(meta metav1.ObjectMeta, handle string, claimNS, claim string, readOnly bool) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: meta,
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: *resource.NewQuantity(d.size, resource.BinarySI)},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              "",
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
				Driver: snapshot.DriverEFS, VolumeHandle: handle, ReadOnly: readOnly,
			}},
			ClaimRef: &corev1.ObjectReference{APIVersion: "v1", Kind: "PersistentVolumeClaim", Namespace: claimNS, Name: claim},
		},
	}
}

func (d *drill) efsClaim(meta metav1.ObjectMeta, pv string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: meta,
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			StorageClassName: ptr(""),
			VolumeName:       pv,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: *resource.NewQuantity(d.size, resource.BinarySI)}},
		},
	}
}

func (d *drill) manifestConfigMap(data []byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: d.meta(d.n.base, d.ns), BinaryData: map[string][]byte{ManifestKey: data}, Immutable: ptr(true)}
}

// verifierPod runs archiver verify-dir against the claim, read-only, under
// the restricted Pod Security profile, with limits and a deadline.
func (d *drill) verifierPod(claim string, deadline time.Duration) *corev1.Pod {
	args := []string{"verify-dir", "--dir", MountRestore, "--manifest", MountManifest + "/" + ManifestKey,
		"--termination-log", corev1.TerminationMessagePathDefault, "--output", "json"}
	if d.src.Kind == snapshot.KindEFS {
		args = append(args, "--recovery-dir", efsRecoveryDir, "--sub", d.efsPath, "--recovery-since", d.efsJobStart.UTC().Format(time.RFC3339))
		for _, x := range d.efsKept {
			args = append(args, "--recovery-exclude", x)
		}
	}
	secs := max(int64(deadline.Seconds()), 1)
	p := &corev1.Pod{
		ObjectMeta: d.meta(d.n.base, d.ns),
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         &secs,
			AutomountServiceAccountToken:  ptr(false),
			EnableServiceLinks:            ptr(false),
			TerminationGracePeriodSeconds: ptr(int64(5)),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: ptr(true), RunAsUser: ptr(d.o.RunAsUser), RunAsGroup: ptr(d.o.RunAsUser),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name: ContainerName, Image: d.o.Image, ImagePullPolicy: corev1.PullIfNotPresent,
				Args: args,
				// The garbage collector keeps under the memory limit.
				Env: []corev1.EnvVar{{Name: "GOMEMLIMIT", ValueFrom: &corev1.EnvVarSource{
					ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: ContainerName, Resource: "limits.memory"}}}},
				TerminationMessagePath:   corev1.TerminationMessagePathDefault,
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				Resources:                d.o.Resources,
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true), RunAsNonRoot: ptr(true),
					Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "restore", MountPath: MountRestore, ReadOnly: true},
					{Name: "manifest", MountPath: MountManifest, ReadOnly: true},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "restore", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: true}}},
				{Name: "manifest", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: d.n.base}}}},
			},
		},
	}
	d.withGPG(p)
	return p
}

// DefaultResources bound the verifier pod: it streams files through
// SHA-256 and holds one zip directory at a time.
func DefaultResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("256Mi")},
	}
}

func ptr[T any](v T) *T { return &v }
