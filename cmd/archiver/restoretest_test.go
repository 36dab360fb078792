package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/awsfake"
	"github.com/xroad-archiver/archiver/internal/restoretest"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

// drillEnv is a namespace on the plain API server (no controllers, no
// kubelet) with an EBS-backed PVC that archiver snapshot has backed up
// (content manifest in a local store, EC2 on the AWS fake): enough for
// every mistake a drill or restore must refuse before it creates anything.
// The drills themselves run on the real node (internal/testenv/e2e).
type drillEnv struct {
	k      testenv.KubeEnv
	ns     string
	env    []string
	dest   string
	snapID string
	snap   snapclient.Interface
	fake   *awsfake.Server
}

func newDrillEnv(t *testing.T) *drillEnv {
	t.Helper()
	k := testenv.Kube(t)
	e := &drillEnv{k: k, ns: k.Namespace(t), fake: awsfake.New(t)}
	ctx := context.Background()
	// Pods in the namespace must meet the restricted Pod Security profile.
	ns, err := k.Client.CoreV1().Namespaces().Get(ctx, e.ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	if _, err := k.Client.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	snap := k.SnapshotCRDs(t)
	e.fake.AddVolume("eu-west-1", "vol-0ddddddddddddddd1", 4, "eu-west-1a")
	k.BoundClaim(t, e.ns, "data", &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "data-" + e.ns},
		Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("4Gi")},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: snapshot.DriverEBS, VolumeHandle: "vol-0ddddddddddddddd1"}}}})
	e.env = []string{"AWS_ENDPOINT_URL=" + e.fake.URL(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=eu-west-1",
		"AWS_EC2_METADATA_DISABLED=true", "ARCHIVER_IMAGE=registry.example/archiver:test"}
	e.dest = "file://" + t.TempDir()
	r := cli(t, e.env, "snapshot", "--kubeconfig", k.Kubeconfig, "--pvc", e.ns+"/data", "--mount", e.ns+"/data="+demoTree(t), "--dest", e.dest, "-o", "json", "--poll-interval", "50ms")
	if r.code != 0 {
		t.Fatalf("snapshot: exit %d: %s", r.code, r.stderr)
	}
	var sr snapshot.Result
	if err := json.Unmarshal([]byte(r.stdout), &sr); err != nil {
		t.Fatal(err)
	}
	e.snapID = sr.Volumes[0].Artifacts[0].ID
	e.snap = snap
	return e
}

// scratch lists what is left of drills in the namespace and cluster-wide.
func (e *drillEnv) scratch(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: restoretest.LabelComponent + "=" + restoretest.ComponentDrill}
	var out []string
	pods, _ := e.k.Client.CoreV1().Pods(e.ns).List(ctx, sel)
	for _, p := range pods.Items {
		out = append(out, "Pod/"+p.Name)
	}
	pvcs, _ := e.k.Client.CoreV1().PersistentVolumeClaims(e.ns).List(ctx, sel)
	for _, p := range pvcs.Items {
		out = append(out, "PVC/"+p.Name)
	}
	cms, _ := e.k.Client.CoreV1().ConfigMaps(e.ns).List(ctx, sel)
	for _, p := range cms.Items {
		out = append(out, "ConfigMap/"+p.Name)
	}
	vss, _ := e.snap.SnapshotV1().VolumeSnapshots(e.ns).List(ctx, sel)
	for _, p := range vss.Items {
		out = append(out, "VolumeSnapshot/"+p.Name)
	}
	vscs, _ := e.snap.SnapshotV1().VolumeSnapshotContents().List(ctx, sel)
	for _, p := range vscs.Items {
		if p.Spec.VolumeSnapshotRef.Namespace == e.ns {
			out = append(out, "VolumeSnapshotContent/"+p.Name)
		}
	}
	return out
}

// TestSnapshotAsTheServiceAccount snapshots with nothing but the rights
// deploy/ grants archiver's ServiceAccount, and checks that the restore
// test's own ServiceAccount may create pods in the scratch namespace
// deploy/restore-test.yaml makes. The drill as that ServiceAccount runs
// on the real node (deploy/'s restore-test CronJob in
// internal/testenv/e2e TestRestoreTestPodKilledMidDrill).
func TestSnapshotAsTheServiceAccount(t *testing.T) {
	k := testenv.Kube(t)
	k.EnsureNamespace(t, "sidecar")
	k.Applier(t).ApplyFiles(t, "../../deploy/serviceaccount.yaml", "../../deploy/rbac.yaml", "../../deploy/restore-test.yaml")
	cfg, kubeconfig := k.ServiceAccountConfig(t, "sidecar", "archiver")
	drillCfg, _ := k.ServiceAccountConfig(t, "sidecar", "archiver-restore-test")
	testenv.WaitAllowed(t, cfg, authorizationv1.ResourceAttributes{Namespace: "sidecar", Verb: "get", Resource: "persistentvolumeclaims"})
	testenv.WaitAllowed(t, drillCfg, authorizationv1.ResourceAttributes{Namespace: "sidecar-restore-test", Verb: "create", Resource: "pods"})
	fake := awsfake.New(t)
	suffix := strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	vol := "vol-0" + suffix + "abcd"
	fake.AddVolume("eu-west-1", vol, 2, "eu-west-1a")
	claim := "data-" + suffix
	k.BoundClaim(t, "sidecar", claim, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "rt-sa-" + suffix},
		Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: snapshot.DriverEBS, VolumeHandle: vol}}}})
	t.Cleanup(func() {
		k.Client.CoreV1().PersistentVolumeClaims("sidecar").Delete(context.Background(), claim, metav1.DeleteOptions{})
	})
	env := []string{"AWS_ENDPOINT_URL=" + fake.URL(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=eu-west-1",
		"AWS_EC2_METADATA_DISABLED=true"}
	dest, data := "file://"+t.TempDir(), demoTree(t)
	r := cli(t, env, "snapshot", "--kubeconfig", kubeconfig, "--pvc", "sidecar/"+claim, "--mount", "sidecar/"+claim+"="+data, "--dest", dest, "-o", "json", "--poll-interval", "50ms")
	if r.code != 0 {
		t.Fatalf("snapshot as the ServiceAccount: exit %d: %s", r.code, r.stderr)
	}
	var sr snapshot.Result
	if err := json.Unmarshal([]byte(r.stdout), &sr); err != nil || len(sr.Volumes) != 1 || len(sr.Volumes[0].Artifacts) != 1 {
		t.Fatalf("snapshot result %v: %s", err, r.stdout)
	}
	if snaps := fake.Snapshots("eu-west-1"); len(snaps) != 1 {
		t.Fatalf("EC2 snapshots: %d", len(snaps))
	}
}

// TestRestoreTestBadInputChangesNothing: each mistake is a clear error
// and no object is created.
func TestRestoreTestBadInputChangesNothing(t *testing.T) {
	e := newDrillEnv(t)
	e.k.BoundClaim(t, e.ns, "nfs", &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "nfs-" + e.ns},
		Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			PersistentVolumeSource: corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "/"}}}})
	// No controllers run: every mistake is caught before anything is
	// created, so the plain API server is all this needs.
	base := []string{"restore-test", "--kubeconfig", e.k.Kubeconfig, "--dest", e.dest, "--storage-class", "gp3", "--poll-interval", "100ms"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no pvc", nil, exitUsage, "--pvc is required"},
		{"bad pvc", []string{"--pvc", "nonamespace"}, exitUsage, "NAMESPACE/NAME"},
		{"both backups", []string{"--pvc", e.ns + "/data", "--snapshot", "snap-1", "--recovery-point", "arn:x"}, exitUsage, "exclude each other"},
		{"no store", []string{"--pvc", e.ns + "/data", "--dest", ""}, exitUsage, "--dest is required"},
		{"bad timeout", []string{"--pvc", e.ns + "/data", "--timeout", "soon"}, exitUsage, "--timeout"},
		{"root verifier", []string{"--pvc", e.ns + "/data", "--run-as-user", "0"}, exitUsage, "non-root"},
		{"missing pvc", []string{"--pvc", e.ns + "/nope"}, exitError, "does not exist"},
		{"unsupported volume", []string{"--pvc", e.ns + "/nfs"}, exitError, "unsupported volume type"},
		{"foreign snapshot", []string{"--pvc", e.ns + "/data", "--snapshot", "snap-0123456789abcdef0"}, exitError, "not one of archiver's backups"},
		{"no content manifest", []string{"--pvc", e.ns + "/data", "--dest", "file://" + t.TempDir()}, exitError, "content manifest"},
		{"no image", []string{"--pvc", e.ns + "/data", "--image", ""}, exitError, "no verifier image"},
		{"dry run", []string{"--pvc", e.ns + "/data", "--dry-run"}, exitOK, "would create VolumeSnapshotContent/archiver-rt-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := e.env
			if tc.name == "no image" {
				env = append(append([]string(nil), e.env...), "ARCHIVER_IMAGE=")
			}
			r := cli(t, env, append(append([]string(nil), base...), tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr+r.stdout, tc.msg) {
				t.Fatalf("exit %d, want %d with %q:\n%s%s", r.code, tc.code, tc.msg, r.stdout, r.stderr)
			}
			if left := e.scratch(t); len(left) != 0 {
				t.Fatalf("created %v", left)
			}
		})
	}
}

// TestRestoreToPVCBadInputChangesNothing: restore --to-pvc refuses a
// target name that is taken and, once the source claim is gone, a restore
// with no storage class; neither creates an object.
func TestRestoreToPVCBadInputChangesNothing(t *testing.T) {
	e := newDrillEnv(t)
	ctx := context.Background()
	e.k.BoundClaim(t, e.ns, "taken", &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "taken-" + e.ns},
		Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: snapshot.DriverEBS, VolumeHandle: "vol-0eeeeeeeeeeeeeee1"}}}})
	before, err := e.k.Client.CoreV1().PersistentVolumeClaims(e.ns).Get(ctx, "taken", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The source claim is not named: it comes from the snapshot's tags.
	r := cli(t, e.env, "restore", "--kubeconfig", e.k.Kubeconfig, "--from", e.dest, "--snapshot", e.snapID, "--to-pvc", e.ns+"/taken",
		"--storage-class", "gp3", "--poll-interval", "100ms", "-o", "json")
	if r.code != exitError || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("restore onto a taken name: exit %d: %s", r.code, r.stderr)
	}
	after, err := e.k.Client.CoreV1().PersistentVolumeClaims(e.ns).Get(ctx, "taken", metav1.GetOptions{})
	if err != nil || after.ResourceVersion != before.ResourceVersion {
		t.Fatalf("the claim that had the name changed: %v", err)
	}
	if left := e.scratch(t); len(left) != 0 {
		t.Fatalf("created %v", left)
	}
	// The source claim is gone and no storage class is given.
	if err := e.k.Client.CoreV1().PersistentVolumeClaims(e.ns).Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r = cli(t, e.env, "restore", "--kubeconfig", e.k.Kubeconfig, "--from", e.dest, "--snapshot", e.snapID, "--to-pvc", e.ns+"/other")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--storage-class") {
		t.Fatalf("no storage class: exit %d: %s", r.code, r.stderr)
	}
	if _, err := e.k.Client.CoreV1().PersistentVolumeClaims(e.ns).Get(ctx, "other", metav1.GetOptions{}); err == nil {
		t.Fatal("created the claim other")
	}
	if left := e.scratch(t); len(left) != 0 {
		t.Fatalf("created %v", left)
	}
}

// TestRunMisspeltJobIsAUsageError: run and serve refuse a job name that is
// not an enabled job before they touch anything.
func TestRunMisspeltJobIsAUsageError(t *testing.T) {
	conf := t.TempDir()
	if err := os.WriteFile(filepath.Join(conf, "local.ini"), []byte("[node]\ntype=slave\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, fmt.Sprintf(`cluster: c1
securityServer: ss1
sync: {enabled: false, dest: "file://%s"}
snapshot: {enabled: false, pvcs: [sidecar/data]}
restoreTest:
  enabled: true
  schedule: "30 4 * * 1,4"
  storageClass: gp3
  image: registry.example/archiver:test
  timeout: 60s
primary: {confDir: %s}
lock: {file: %s}
`, t.TempDir(), conf, filepath.Join(t.TempDir(), "lock")))
	for _, cmd := range []string{"run", "serve"} {
		if r := cli(t, nil, cmd, "-c", cfg, "--job", "restore-tset"); r.code != exitUsage || !strings.Contains(r.stderr, "not an enabled job") {
			t.Fatalf("%s with a misspelt job: exit %d: %s", cmd, r.code, r.stderr)
		}
	}
}
