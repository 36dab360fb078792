package main

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/awsfake"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

func TestSnapshotCommand(t *testing.T) {
	k := testenv.Kube(t)
	ns := k.Namespace(t)
	fake := awsfake.New(t)
	fake.AddVolume("eu-west-1", "vol-0aaaaaaaaaaaaaaa1", 10, "eu-west-1a")
	mk := func(name string, src corev1.PersistentVolumeSource) {
		k.BoundClaim(t, ns, name, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name + "-" + ns},
			Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}, PersistentVolumeSource: src}})
	}
	mk("data", corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: snapshot.DriverEBS, VolumeHandle: "vol-0aaaaaaaaaaaaaaa1"}})
	mk("nfs", corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "/"}})
	env := []string{"AWS_ENDPOINT_URL=" + fake.URL(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=eu-west-1", "AWS_EC2_METADATA_DISABLED=true"}
	base := []string{"snapshot", "--kubeconfig", k.Kubeconfig, "--cluster", "test", "-o", "json"}
	r := cli(t, env, append(base, "--pvc", ns+"/data", "--keep-last", "3")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s\n%s", r.code, r.stderr, r.stdout)
	}
	var res snapshot.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Volumes[0].Artifacts[0].State != "completed" {
		t.Fatalf("result %s (%v)", r.stdout, err)
	}
	r = cli(t, env, append(base, "--pvc", ns+"/data", "--pvc", ns+"/nfs")...)
	if r.code != exitPartial || !strings.Contains(r.stdout, "NFS") {
		t.Fatalf("partial: exit %d\n%s", r.code, r.stdout)
	}
	r = cli(t, env, "snapshot", "list", "--kubeconfig", k.Kubeconfig, "--pvc", ns+"/data")
	if r.code != 0 || strings.Count(r.stdout, "ebs-snapshot") != 2 {
		t.Fatalf("list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"snapshot"}, {"snapshot", "--pvc", "nonamespace"}, {"snapshot", "--pvc", "a/b", "--keep-daily", "-1"},
		{"snapshot", "--pvc", "a/b", "--mount", "a/b=relative"}, {"snapshot", "list", "--pvc", "a/b", "--keep-daily", "7"},
		{"snapshot", "list", "--pvc", "a/b", "--dry-run"}} {
		if r := cli(t, env, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want 2 (%s)", args, r.code, r.stderr)
		}
	}
}
