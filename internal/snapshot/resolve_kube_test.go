package snapshot

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/testenv"
)

func pv(name string, src corev1.PersistentVolumeSource, zone string) *corev1.PersistentVolume {
	p := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("20Gi")},
			PersistentVolumeSource: src,
			StorageClassName:       "",
		},
	}
	if zone != "" {
		p.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "topology.ebs.csi.aws.com/zone", Operator: corev1.NodeSelectorOpIn, Values: []string{zone}}}}}}}
	}
	return p
}

func TestResolveAgainstTheAPIServer(t *testing.T) {
	k := testenv.Kube(t)
	ns := k.Namespace(t)
	ctx := context.Background()
	suffix := ns[len(ns)-6:]
	local := pv("local-"+suffix, corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/mnt/disks/xroad"}}, "")
	local.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-1"}}}}}}}
	tests := []struct {
		claim string
		pv    *corev1.PersistentVolume
		want  Volume
		err   string
	}{
		{"ebs-csi", pv("ebs-csi-"+suffix, corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: DriverEBS, VolumeHandle: "vol-0123456789abcdef0"}}, "eu-west-1a"),
			Volume{Kind: KindEBS, VolumeID: "vol-0123456789abcdef0", Zone: "eu-west-1a"}, ""},
		{"ebs-intree", pv("ebs-intree-"+suffix, corev1.PersistentVolumeSource{AWSElasticBlockStore: &corev1.AWSElasticBlockStoreVolumeSource{VolumeID: "aws://eu-west-1b/vol-0fedcba9876543210"}}, ""),
			Volume{Kind: KindEBS, VolumeID: "vol-0fedcba9876543210"}, ""},
		{"efs-ap", pv("efs-ap-"+suffix, corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: DriverEFS, VolumeHandle: "fs-0123456789abcdef0::fsap-0123456789abcdef0"}}, ""),
			Volume{Kind: KindEFS, FileSystemID: "fs-0123456789abcdef0", AccessPoint: "fsap-0123456789abcdef0"}, ""},
		{"efs-path", pv("efs-path-"+suffix, corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: DriverEFS, VolumeHandle: "fs-0123456789abcdef0:/xroad"}}, ""),
			Volume{Kind: KindEFS, FileSystemID: "fs-0123456789abcdef0", SubPath: "/xroad"}, ""},
		{"hostpath", pv("hostpath-"+suffix, corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/xroad-data"}}, ""),
			Volume{Kind: KindHostPath, HostPath: "/var/lib/xroad-data"}, ""},
		{"local", local, Volume{Kind: KindHostPath, HostPath: "/mnt/disks/xroad"}, ""},
		{"nfs", pv("nfs-"+suffix, corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs.example", Path: "/x"}}, ""), Volume{}, "type NFS: unsupported volume type"},
		{"other-csi", pv("other-"+suffix, corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "disk.csi.azure.com", VolumeHandle: "x"}}, ""), Volume{}, "CSI driver disk.csi.azure.com"},
		{"bad-handle", pv("bad-"+suffix, corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: DriverEBS, VolumeHandle: "snap-123"}}, ""), Volume{}, "EBS volume handle"},
	}
	for _, tc := range tests {
		t.Run(tc.claim, func(t *testing.T) {
			k.BoundClaim(t, ns, tc.claim, tc.pv)
			got, err := Resolve(ctx, k.Client, ns, tc.claim)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Resolve = %+v, %v; want error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Namespace, tc.want.PVC, tc.want.PV, tc.want.SizeBytes = ns, tc.claim, tc.pv.Name, 20<<30
			if got != tc.want {
				t.Errorf("Resolve = %+v\nwant      %+v", got, tc.want)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		if _, err := Resolve(ctx, k.Client, ns, "nope"); err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unbound", func(t *testing.T) {
		sc := ""
		k.Client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "pending"},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: &sc,
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}, metav1.CreateOptions{})
		if _, err := Resolve(ctx, k.Client, ns, "pending"); !errors.Is(err, ErrNotBound) {
			t.Fatalf("err = %v, want ErrNotBound", err)
		}
	})
}
