package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/awsfake"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

// TestSyncRunsWhileASnapshotWaitsOnAWS: the snapshot job holds the run
// Lease (on the real API server) while it captures the volume, and gives
// it up once the EBS snapshot is created, so an hourly sync that starts
// while the snapshot is still pending runs (exit 0) instead of exiting 11.
func TestSyncRunsWhileASnapshotWaitsOnAWS(t *testing.T) {
	k := testenv.Kube(t)
	ns := k.Namespace(t)
	fake := awsfake.New(t)
	fake.SnapshotPolls = 3 // pending for two polls (5 s, then 10 s apart)
	vol := "vol-0bbbbbbbbbbbbbbb2"
	fake.AddVolume("eu-west-1", vol, 10, "eu-west-1a")
	k.BoundClaim(t, ns, "data", &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "data-" + ns},
		Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: snapshot.DriverEBS, VolumeHandle: vol}}}})
	src, dest := demoTree(t), t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf(`cluster: c1
sync: {enabled: true, source: %s, dest: 'file://%s'}
snapshot: {enabled: true, pvcs: [%s/data], mounts: {%s/data: %s}}
lock: {namespace: %s, name: archiver, duration: 30s}
primary: {confDir: %s}
`, src, dest, ns, ns, src, ns, t.TempDir()))
	env := []string{"AWS_ENDPOINT_URL=" + fake.URL(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=eu-west-1", "AWS_EC2_METADATA_DISABLED=true"}

	snap, out := start(t, env, "run", "-c", cfg, "--kubeconfig", k.Kubeconfig, "--job", "snapshot", "-o", "json")
	done := make(chan error, 1)
	go func() { done <- snap.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); len(fake.Snapshots("eu-west-1")) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot created within 30s\n%s", out)
		}
	}
	// The snapshot now waits on EC2; give it a moment to release the Lease.
	released := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		lease, err := k.Client.CoordinationV1().Leases(ns).Get(context.Background(), "archiver", metav1.GetOptions{})
		if err == nil && (lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "") {
			released = true
			break
		}
	}
	if !released {
		t.Fatalf("the snapshot job kept the Lease while waiting on EC2\n%s", out)
	}
	r := cli(t, env, "run", "-c", cfg, "--kubeconfig", k.Kubeconfig, "--job", "sync", "-o", "json")
	if r.code != 0 {
		t.Fatalf("sync while the snapshot waits on AWS: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	select {
	case err := <-done:
		t.Fatalf("the snapshot finished (%v) before the sync ran: nothing overlapped\n%s", err, out)
	default:
	}
	if err := <-done; err != nil {
		t.Fatalf("snapshot run: %v\n%s", err, out)
	}
	if files, _ := filepath.Glob(filepath.Join(dest, "mlog-*")); len(files) == 0 {
		t.Fatal("the sync shipped nothing")
	}
}
