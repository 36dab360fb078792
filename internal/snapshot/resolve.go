package snapshot

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Kinds of volume archiver can back up.
const (
	KindEBS      = "ebs"
	KindEFS      = "efs"
	KindHostPath = "hostpath"
)

// CSI drivers.
const (
	DriverEBS = "ebs.csi.aws.com"
	DriverEFS = "efs.csi.aws.com"
)

// Volume is what a PVC resolves to.
type Volume struct {
	Namespace    string `json:"namespace"`
	PVC          string `json:"pvc"`
	PV           string `json:"pv"`
	Kind         string `json:"kind"`
	VolumeID     string `json:"volume_id,omitempty"`      // EBS vol-...
	FileSystemID string `json:"file_system_id,omitempty"` // EFS fs-...
	AccessPoint  string `json:"access_point,omitempty"`   // EFS fsap-...
	SubPath      string `json:"sub_path,omitempty"`       // EFS path inside the file system
	HostPath     string `json:"host_path,omitempty"`      // hostPath / local path on the node
	Zone         string `json:"zone,omitempty"`
	SizeBytes    int64  `json:"size_bytes"`
}

// Ref names a PVC as NAMESPACE/NAME.
func (v Volume) Ref() string { return v.Namespace + "/" + v.PVC }

// Errors of resolution.
var (
	ErrUnsupported = errors.New("unsupported volume type")
	ErrNotBound    = errors.New("claim is not bound to a volume")
	ErrNoClaim     = errors.New("does not exist")
)

// ParseRef splits NAMESPACE/NAME.
func ParseRef(ref string) (ns, name string, err error) {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("PVC %q: want NAMESPACE/NAME", ref)
	}
	return ns, name, nil
}

// ParseMounts parses NAMESPACE/NAME=/absolute/path entries (where this
// pod mounts each PVC) into a map from the PVC's reference to its path; a
// later entry for the same PVC wins.
func ParseMounts(entries []string) (map[string]string, error) {
	m := make(map[string]string, len(entries))
	for _, e := range entries {
		ref, path, ok := strings.Cut(e, "=")
		if _, _, err := ParseRef(ref); !ok || err != nil || !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("%q: want NAMESPACE/NAME=/absolute/path", e)
		}
		m[ref] = path
	}
	return m, nil
}

// Resolve looks a PVC up and returns the volume behind it.
func Resolve(ctx context.Context, kube kubernetes.Interface, ns, name string) (Volume, error) {
	v := Volume{Namespace: ns, PVC: name}
	pvc, err := kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return v, fmt.Errorf("PVC %s/%s %w", ns, name, ErrNoClaim)
		}
		return v, fmt.Errorf("get PVC %s/%s: %w", ns, name, err)
	}
	if pvc.Spec.VolumeName == "" || pvc.Status.Phase != corev1.ClaimBound {
		return v, fmt.Errorf("PVC %s/%s (phase %s): %w", ns, name, pvc.Status.Phase, ErrNotBound)
	}
	pv, err := kube.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return v, fmt.Errorf("get PV %s of PVC %s/%s: %w", pvc.Spec.VolumeName, ns, name, err)
	}
	v.PV = pv.Name
	if q, ok := pv.Spec.Capacity[corev1.ResourceStorage]; ok {
		v.SizeBytes = q.Value()
	}
	v.Zone = zoneOf(pv)
	src := pv.Spec.PersistentVolumeSource
	switch {
	case src.CSI != nil && src.CSI.Driver == DriverEBS:
		v.Kind = KindEBS
		v.VolumeID, err = ParseEBSHandle(src.CSI.VolumeHandle)
	case src.AWSElasticBlockStore != nil:
		v.Kind = KindEBS
		v.VolumeID, err = ParseEBSHandle(src.AWSElasticBlockStore.VolumeID)
	case src.CSI != nil && src.CSI.Driver == DriverEFS:
		v.Kind = KindEFS
		v.FileSystemID, v.SubPath, v.AccessPoint, err = ParseEFSHandle(src.CSI.VolumeHandle)
	case src.HostPath != nil:
		v.Kind, v.HostPath = KindHostPath, src.HostPath.Path
	case src.Local != nil:
		v.Kind, v.HostPath = KindHostPath, src.Local.Path
	default:
		return v, fmt.Errorf("PVC %s/%s is bound to PV %s of type %s: %w (archiver backs up EBS, EFS, hostPath and local volumes)",
			ns, name, pv.Name, sourceType(src), ErrUnsupported)
	}
	if err != nil {
		return v, fmt.Errorf("PV %s: %w", pv.Name, err)
	}
	return v, nil
}

var (
	ebsID = regexp.MustCompile(`^vol-[0-9a-f]{8,17}$`)
	efsID = regexp.MustCompile(`^fs-[0-9a-f]{8,17}$`)
	efsAP = regexp.MustCompile(`^fsap-[0-9a-f]{8,17}$`)
)

// ParseEBSHandle accepts the CSI volumeHandle (vol-...) and the in-tree
// forms aws://ZONE/vol-..., aws:///vol-... and vol-....
func ParseEBSHandle(h string) (string, error) {
	id := h
	if strings.HasPrefix(h, "aws://") {
		u, err := url.Parse(h)
		if err != nil {
			return "", fmt.Errorf("EBS volume %q: %v", h, err)
		}
		id = strings.Trim(u.Path, "/")
	}
	if !ebsID.MatchString(id) {
		return "", fmt.Errorf("EBS volume handle %q: want vol-ID, aws://ZONE/vol-ID or aws:///vol-ID", h)
	}
	return id, nil
}

// ParseEFSHandle accepts FSID[:PATH[:ACCESSPOINT]] (fs-..., fs-...::fsap-...,
// fs-...:/dir, fs-...:/dir:fsap-...).
func ParseEFSHandle(h string) (fs, path, ap string, err error) {
	parts := strings.Split(h, ":")
	if len(parts) > 3 {
		return "", "", "", fmt.Errorf("EFS volume handle %q: want FSID[:PATH[:ACCESSPOINT]]", h)
	}
	fs = parts[0]
	if len(parts) > 1 {
		path = parts[1]
	}
	if len(parts) > 2 {
		ap = parts[2]
	}
	if !efsID.MatchString(fs) || (ap != "" && !efsAP.MatchString(ap)) || (path != "" && !strings.HasPrefix(path, "/")) {
		return "", "", "", fmt.Errorf("EFS volume handle %q: want fs-...[:/path[:fsap-...]]", h)
	}
	return fs, path, ap, nil
}

func zoneOf(pv *corev1.PersistentVolume) string {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return ""
	}
	for _, t := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
		for _, e := range t.MatchExpressions {
			if (e.Key == "topology.ebs.csi.aws.com/zone" || e.Key == "topology.kubernetes.io/zone") && len(e.Values) > 0 {
				return e.Values[0]
			}
		}
	}
	return ""
}

// sourceType names a PV's source for error messages.
func sourceType(src corev1.PersistentVolumeSource) string {
	switch {
	case src.CSI != nil:
		return "CSI driver " + src.CSI.Driver
	case src.NFS != nil:
		return "NFS"
	case src.ISCSI != nil:
		return "iSCSI"
	case src.FC != nil:
		return "FibreChannel"
	case src.GCEPersistentDisk != nil:
		return "GCE persistent disk"
	case src.AzureDisk != nil:
		return "Azure disk"
	case src.AzureFile != nil:
		return "Azure file"
	case src.CephFS != nil:
		return "CephFS"
	case src.RBD != nil:
		return "Ceph RBD"
	}
	return "unknown"
}
