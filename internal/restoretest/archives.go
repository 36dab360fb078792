package restoretest

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/manifest"
)

// Archives is the S3 variant of a drill: the verifier pod restores the
// shipped archives and backups of the latest sync run from the
// destination into a scratch volume (archiver verify-dir --restore-from,
// with the pod's own AWS identity) and re-reads them there.
type Archives struct {
	Dest           string // s3://BUCKET/PREFIX (or file:///path)
	EndpointURL    string
	Region         string
	ServiceAccount string // in the scratch namespace, with IRSA or Pod Identity for reading the bucket
}

// runArchives is Run's body for the S3 variant.
func (d *drill) runArchives(ctx context.Context, start time.Time) error {
	m, _, err := manifest.Latest(ctx, d.o.Store)
	if err != nil {
		return err
	}
	if m == nil {
		return fmt.Errorf("%w: no manifest at %s (nothing has been archived there)", ErrNoBackup, d.o.Archives.Dest)
	}
	var total int64
	for _, e := range manifest.Current(m.Entries) {
		total += e.Size
	}
	d.backup = Backup{Kind: "sync-manifest", ID: m.RunID, RunID: m.RunID, Started: m.Created, SizeBytes: total}
	d.res.Backup = d.backup
	d.size = total + total/10 + 256<<20
	dl, _ := ctx.Deadline()
	if _, err := d.o.Kube.CoreV1().Pods(d.ns).Create(ctx, d.admit(d.archivesPod(m.RunID, time.Until(dl))), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create verifier pod %s/%s: %w", d.ns, d.n.base, err)
	}
	d.track("Pod", d.ns, d.n.base, false)
	d.o.Log.Info("verifier pod created", "pod", d.ns+"/"+d.n.base, "dest", d.o.Archives.Dest, "run", m.RunID, "bytes", total)
	_, check, err := d.waitPod(ctx, "", start)
	if err != nil {
		return err
	}
	d.res.Check = check
	d.res.RestoreSec = check.RestoreSeconds
	d.res.VerifySec = check.Seconds
	return check.Err()
}

// archivesPod restores into a scratch volume: a generic ephemeral PVC of
// the storage class when one is set (deleted with the pod), else an
// emptyDir bounded by the archives' size.
func (d *drill) archivesPod(runID string, deadline time.Duration) *corev1.Pod {
	a := d.o.Archives
	p := d.verifierPod("", deadline)
	c := &p.Spec.Containers[0]
	c.Args = []string{"verify-dir", "--restore-from", a.Dest, "--as-of", runID, "--dir", MountRestore,
		"--termination-log", corev1.TerminationMessagePathDefault, "--output", "json"}
	if a.EndpointURL != "" {
		c.Args = append(c.Args, "--endpoint-url", a.EndpointURL)
	}
	if a.Region != "" {
		c.Env = append(c.Env, corev1.EnvVar{Name: "AWS_REGION", Value: a.Region})
	}
	c.VolumeMounts = []corev1.VolumeMount{{Name: "restore", MountPath: MountRestore}}
	size := *resource.NewQuantity(d.size, resource.BinarySI)
	scratch := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &size}}
	if d.o.StorageClass != "" {
		scratch = corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{
			ObjectMeta: metav1.ObjectMeta{Labels: p.Labels},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName: ptr(d.o.StorageClass),
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
			}}}}
	}
	p.Spec.Volumes = []corev1.Volume{{Name: "restore", VolumeSource: scratch}}
	// A new volume's root belongs to root: the group makes it writable for
	// the verifier's uid (the restricted profile allows fsGroup).
	onMismatch := corev1.FSGroupChangeOnRootMismatch
	p.Spec.SecurityContext.FSGroup = ptr(d.o.RunAsUser)
	p.Spec.SecurityContext.FSGroupChangePolicy = &onMismatch
	if a.ServiceAccount != "" {
		// IRSA and Pod Identity hand the pod its AWS role through the
		// ServiceAccount's projected token.
		p.Spec.ServiceAccountName = a.ServiceAccount
		p.Spec.AutomountServiceAccountToken = ptr(true)
	}
	d.withGPG(p)
	return p
}
