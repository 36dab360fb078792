package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/awsfake"
	"github.com/xroad-archiver/archiver/internal/dircheck"
	"github.com/xroad-archiver/archiver/internal/report"
	"github.com/xroad-archiver/archiver/internal/restoretest"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

// drillEnv is a namespace with an EBS-backed PVC that archiver snapshot
// has backed up (content manifest in a local store), and a fake cluster
// that restores that snapshot from a copy of the data it captured.
type drillEnv struct {
	k       testenv.KubeEnv
	ns      string
	env     []string
	dest    string
	snapID  string
	data    string // the volume's files at snapshot time
	snap    snapclient.Interface
	cluster *testenv.Cluster // the played controllers, started by the tests that need them
	fake    *awsfake.Server
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
	e.data = demoTree(t)
	r := cli(t, e.env, "snapshot", "--kubeconfig", k.Kubeconfig, "--pvc", e.ns+"/data", "--mount", e.ns+"/data="+e.data, "--dest", e.dest, "-o", "json", "--poll-interval", "50ms")
	if r.code != 0 {
		t.Fatalf("snapshot: exit %d: %s", r.code, r.stderr)
	}
	var sr snapshot.Result
	if err := json.Unmarshal([]byte(r.stdout), &sr); err != nil {
		t.Fatal(err)
	}
	e.snapID = sr.Volumes[0].Artifacts[0].ID
	e.snap = snap
	e.cluster = &testenv.Cluster{K: k, Snap: snap, NS: e.ns, Data: map[string]string{e.snapID: e.data}, Run: runPod}
	return e
}

// runPod is the fake kubelet's container runtime: the archiver binary.
func runPod(ctx context.Context, args, env []string) int {
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Run()
	return cmd.ProcessState.ExitCode()
}

func (e *drillEnv) drill(t *testing.T, extra ...string) (cliResult, restoretest.Result) {
	t.Helper()
	args := append([]string{"restore-test", "--kubeconfig", e.k.Kubeconfig, "--pvc", e.ns + "/data", "--dest", e.dest,
		"--storage-class", "gp3", "--poll-interval", "100ms", "--timeout", "60s", "-o", "json"}, extra...)
	r := cli(t, e.env, args...)
	var res restoretest.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("exit %d, output is not a result: %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	return r, res
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

// gone waits until nothing of a drill is left (claims go once the fake
// pvc-protection controller lets them).
func (e *drillEnv) gone(t *testing.T) {
	t.Helper()
	eventually(t, 10*time.Second, func() string {
		if left := e.scratch(t); len(left) > 0 {
			return fmt.Sprintf("left behind: %v", left)
		}
		return ""
	})
}

// eventually calls cond until it has nothing to complain about, failing
// the test with its last complaint after within.
func eventually(t *testing.T, within time.Duration, cond func() string) {
	t.Helper()
	for end := time.Now().Add(within); ; time.Sleep(50 * time.Millisecond) {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(end) {
			t.Fatal(msg)
		}
	}
}

// noScratchVolumes: no live PV is bound to a drill's claim in ns (a
// volume of a class that retains would be an EBS volume left behind).
func noScratchVolumes(k testenv.KubeEnv, ns string) func() string {
	return func() string {
		pvs, _ := k.Client.CoreV1().PersistentVolumes().List(context.Background(), metav1.ListOptions{})
		var left []string
		for _, pv := range pvs.Items {
			if r := pv.Spec.ClaimRef; r != nil && r.Namespace == ns && strings.HasPrefix(r.Name, "archiver-rt-") && pv.DeletionTimestamp == nil {
				left = append(left, pv.Name)
			}
		}
		if len(left) > 0 {
			return fmt.Sprintf("scratch volumes left: %v", left)
		}
		return ""
	}
}

// startDrill starts a drill in the background and waits until it has
// created its 5 objects.
func (e *drillEnv) startDrill(t *testing.T, stdout io.Writer, extra ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"restore-test", "--kubeconfig", e.k.Kubeconfig, "--pvc", e.ns + "/data", "--dest", e.dest,
		"--storage-class", "gp3", "--poll-interval", "100ms"}, extra...)...)
	cmd.Env = append(os.Environ(), e.env...)
	cmd.Stdout = stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	eventually(t, 20*time.Second, func() string {
		if left := e.scratch(t); len(left) < 5 {
			return fmt.Sprintf("the drill never created its objects: %v", left)
		}
		return ""
	})
	return cmd
}

func TestRestoreTestVerifiesAGoodSnapshotAndCleansUp(t *testing.T) {
	e := newDrillEnv(t)
	e.cluster.Start(t)
	before, _ := snapshot.ScanContent(context.Background(), e.data)
	r, res := e.drill(t)
	if r.code != 0 || res.Status != "ok" {
		t.Fatalf("exit %d: %+v\n%s", r.code, res, r.stderr)
	}
	files, _ := snapshot.ScanContent(context.Background(), e.data)
	// The fake kubelet cannot mount read-only; the verifier only reads.
	if fmt.Sprint(files) != fmt.Sprint(before) {
		t.Fatal("the verifier changed the restored volume")
	}
	if res.Check == nil || res.Check.Verified != len(files) || res.Check.Expected != len(files) || res.Check.Archives == 0 {
		t.Fatalf("check %+v, want all %d files", res.Check, len(files))
	}
	if res.Backup.ID != e.snapID || res.RestoreSec <= 0 || res.TotalSec < res.RestoreSec {
		t.Fatalf("backup %s, restore %.2fs, total %.2fs", res.Backup.ID, res.RestoreSec, res.TotalSec)
	}
	pods, claims, contents := e.cluster.Recorded()
	if len(pods) != 1 {
		t.Fatalf("verifier pods run: %v", pods)
	}
	// What the CSI driver was asked for: the AWS snapshot, kept on delete;
	// a claim at least as large as the source volume, of the class given.
	if len(contents) != 1 || len(claims) != 1 {
		t.Fatalf("contents %d, claims %d", len(contents), len(claims))
	}
	vsc, pvc := contents[0], claims[0]
	if vsc.Spec.Driver != snapshot.DriverEBS || *vsc.Spec.Source.SnapshotHandle != e.snapID || vsc.Spec.DeletionPolicy != "Retain" {
		t.Errorf("VolumeSnapshotContent %+v", vsc.Spec)
	}
	if req := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; req.Cmp(resource.MustParse("4Gi")) < 0 || *pvc.Spec.StorageClassName != "gp3" ||
		pvc.Spec.DataSource.Kind != "VolumeSnapshot" {
		t.Errorf("scratch claim %+v", pvc.Spec)
	}
	t.Logf("drill of %d files (%d bytes): bound after %.2fs, verified in %.2fs (check %.2fs), total %.2fs", res.Check.Expected, res.Check.Bytes,
		res.RestoreSec, res.VerifySec, res.Check.Seconds, res.TotalSec)
	for _, kind := range []string{"Pod/", "PersistentVolumeClaim/", "VolumeSnapshot/", "VolumeSnapshotContent/", "ConfigMap/"} {
		if !strings.Contains(strings.Join(res.Deleted, " "), kind) {
			t.Errorf("deleted %v, no %s", res.Deleted, kind)
		}
	}
	e.gone(t)
	// deletionPolicy Retain: the AWS snapshot is still there.
	if snaps := e.fake.Snapshots("eu-west-1"); len(snaps) != 1 {
		t.Fatalf("AWS snapshots after the drill: %d", len(snaps))
	}
	// The text output says the same.
	r = cli(t, e.env, "restore-test", "--kubeconfig", e.k.Kubeconfig, "--pvc", e.ns+"/data", "--dest", e.dest, "--snapshot", e.snapID,
		"--storage-class", "gp3", "--poll-interval", "100ms")
	if r.code != 0 || !strings.Contains(r.stdout, "ok") || !strings.Contains(r.stdout, "files verified") {
		t.Fatalf("text: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestRestoreTestNamesCorruptAndMissingFiles(t *testing.T) {
	e := newDrillEnv(t)
	files, _ := snapshot.ScanContent(context.Background(), e.data)
	var archive, backup string
	for _, f := range files {
		switch {
		case f.Kind == "archive" && archive == "":
			archive = f.Path
		case f.Kind == "backup" && backup == "":
			backup = f.Path
		}
	}
	// The restored volume differs from what was recorded: one archive has
	// a flipped byte, one backup is gone.
	p := filepath.Join(e.data, archive)
	b, _ := os.ReadFile(p)
	b[len(b)/3] ^= 0x01
	st, _ := os.Stat(p)
	os.WriteFile(p, b, 0o600)
	os.Chtimes(p, st.ModTime(), st.ModTime())
	os.Remove(filepath.Join(e.data, backup))
	e.cluster.Start(t)
	r, res := e.drill(t)
	if r.code != exitVerifyFail || res.Status != "failed" || res.Check == nil {
		t.Fatalf("exit %d: %+v\n%s", r.code, res, r.stderr)
	}
	kinds := map[string]string{}
	for _, p := range res.Check.Problems {
		kinds[p.Path] = p.Kind
	}
	if kinds[archive] != dircheck.Corrupted || kinds[backup] != dircheck.Missing || len(kinds) != 2 {
		t.Fatalf("problems %v, want %s corrupted and %s missing", res.Check.Problems, archive, backup)
	}
	if !strings.Contains(res.Error, archive) || !strings.Contains(r.stderr, archive) {
		t.Fatalf("the error does not name %s: %q\n%s", archive, res.Error, r.stderr)
	}
	e.gone(t)
}

func TestRestoreTestPodNeverScheduledTimesOutWithTheReason(t *testing.T) {
	e := newDrillEnv(t)
	e.cluster.Unschedulable = "0/3 nodes are available: 3 Insufficient memory."
	e.cluster.Start(t)
	r, res := e.drill(t, "--timeout", "8s")
	if r.code != exitError || res.Status != "error" {
		t.Fatalf("exit %d: %+v", r.code, res)
	}
	if !strings.Contains(res.Error, "timed out") || !strings.Contains(res.Error, "Insufficient memory") {
		t.Fatalf("error %q does not say why", res.Error)
	}
	e.gone(t)
}

// TestRestoreTestSnapshotErrorEndsBeforeTheTimeout: the snapshot the
// VolumeSnapshotContent names cannot be found; the drill fails with the
// controller's message well before its timeout, and cleans up.
func TestRestoreTestSnapshotErrorEndsBeforeTheTimeout(t *testing.T) {
	e := newDrillEnv(t)
	e.cluster.SnapshotError = "Failed to check and update snapshot content: InvalidSnapshot.NotFound: The snapshot does not exist."
	e.cluster.Start(t)
	r, res := e.drill(t, "--timeout", "30s")
	// Ended by the error (after a grace of a third of the time left), not
	// by the timeout: a timeout's message says "timed out".
	if r.code != exitError || !strings.Contains(res.Error, "InvalidSnapshot.NotFound") || strings.Contains(res.Error, "timed out") {
		t.Fatalf("exit %d: %q", r.code, res.Error)
	}
	e.gone(t)
}

func TestRestoreTestKilledMidwayIsCleanedUpByTheNextRun(t *testing.T) {
	e := newDrillEnv(t)
	e.cluster.Hold = true
	e.cluster.Reclaim = corev1.PersistentVolumeReclaimRetain // the class keeps volumes
	e.cluster.Start(t)
	cmd := e.startDrill(t, nil, "--timeout", "10s")
	cmd.Process.Kill()
	cmd.Wait()
	left := e.scratch(t)
	if len(left) != 5 {
		t.Fatalf("after the kill: %v", left)
	}
	// A drill started before the dead one's deadline leaves its objects
	// alone (they might belong to a slow, live drill) and does its own work.
	e.cluster.SetHold(false)
	r, res := e.drill(t)
	if r.code != 0 || len(res.Leftovers) != 0 {
		t.Fatalf("second run: exit %d, leftovers %v: %s", r.code, res.Leftovers, r.stderr)
	}
	eventually(t, 10*time.Second, func() string { // its own objects go; the dead drill's stay
		if got := e.scratch(t); len(got) != 5 {
			return fmt.Sprintf("the dead drill's objects changed before its deadline: %v", got)
		}
		return ""
	})
	if got := e.scratch(t); strings.Join(got, " ") != strings.Join(left, " ") {
		t.Fatalf("the dead drill's objects changed before its deadline: %v, were %v", got, left)
	}
	var cmName string
	for _, o := range left {
		if n, ok := strings.CutPrefix(o, "ConfigMap/"); ok {
			cmName = n
		}
	}
	cm, err := e.k.Client.CoreV1().ConfigMaps(e.ns).Get(context.Background(), cmName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dl, err := time.Parse(time.RFC3339, cm.Annotations[restoretest.AnnotationDeadline])
	if err != nil {
		t.Fatalf("deadline annotation: %v", err)
	}
	time.Sleep(time.Until(dl.Add(time.Second)))
	r, res = e.drill(t)
	if r.code != 0 || len(res.Leftovers) < 5 {
		t.Fatalf("third run: exit %d, leftovers %v: %s", r.code, res.Leftovers, r.stderr)
	}
	e.gone(t)
	// The dead drill's scratch volume went too, though its class retains.
	eventually(t, 10*time.Second, noScratchVolumes(e.k, e.ns))
}

func TestRestoreToPVCLeavesAVerifiedClaim(t *testing.T) {
	ctx := context.Background()
	t.Run("ebs", func(t *testing.T) {
		e := newDrillEnv(t)
		e.cluster.Start(t)
		// The source PVC is not named: it comes from the snapshot's tags.
		args := []string{"restore", "--kubeconfig", e.k.Kubeconfig, "--from", e.dest, "--snapshot", e.snapID, "--to-pvc", e.ns + "/restored",
			"--storage-class", "gp3", "--poll-interval", "100ms", "-o", "json"}
		r := cli(t, e.env, args...)
		var res restoretest.Result
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 || res.Status != "ok" || res.PVC != e.ns+"/restored" {
			t.Fatalf("exit %d (%v): %s\n%s", r.code, err, r.stdout, r.stderr)
		}
		pvc, err := e.k.Client.CoreV1().PersistentVolumeClaims(e.ns).Get(ctx, "restored", metav1.GetOptions{})
		if err != nil || pvc.Status.Phase != corev1.ClaimBound || pvc.Labels[restoretest.LabelComponent] != restoretest.ComponentRestored || pvc.DeletionTimestamp != nil {
			t.Fatalf("restored PVC: %v %+v", err, pvc)
		}
		e.gone(t)
		// Again: the name is taken, nothing is created or changed.
		r = cli(t, e.env, args...)
		if r.code != exitError || !strings.Contains(r.stderr, "already exists") {
			t.Fatalf("second restore: exit %d: %s", r.code, r.stderr)
		}
		if left := e.scratch(t); len(left) != 0 {
			t.Fatalf("created %v", left)
		}
		// The source PVC is gone and no storage class is given: a clear usage error.
		e.k.Client.CoreV1().PersistentVolumeClaims(e.ns).Delete(ctx, "data", metav1.DeleteOptions{})
		r = cli(t, e.env, "restore", "--kubeconfig", e.k.Kubeconfig, "--from", e.dest, "--snapshot", e.snapID, "--to-pvc", e.ns+"/other")
		if r.code != exitUsage || !strings.Contains(r.stderr, "--storage-class") {
			t.Fatalf("no storage class: exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("ebs unverified", func(t *testing.T) {
		e := newDrillEnv(t)
		files, _ := snapshot.ScanContent(ctx, e.data)
		os.Remove(filepath.Join(e.data, files[0].Path)) // the snapshot lacks a file the manifest records
		e.cluster.Start(t)
		r := cli(t, e.env, "restore", "--kubeconfig", e.k.Kubeconfig, "--from", e.dest, "--snapshot", e.snapID, "--to-pvc", e.ns+"/restored",
			"--pvc", e.ns+"/data", "--poll-interval", "100ms", "--storage-class", "gp3", "-o", "json")
		var res restoretest.Result
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != exitVerifyFail || res.PVC != "" || !strings.Contains(res.Error, "was removed") {
			t.Fatalf("exit %d (%v): %s\n%s", r.code, err, r.stdout, r.stderr)
		}
		// An unverified volume is not left for someone to mount.
		eventually(t, 10*time.Second, func() string {
			if _, err := e.k.Client.CoreV1().PersistentVolumeClaims(e.ns).Get(ctx, "restored", metav1.GetOptions{}); err == nil {
				return "the unverified PVC is still there"
			}
			return ""
		})
		e.gone(t)
	})
}

// TestRestoreTestAsTheServiceAccount snapshots as archiver's
// ServiceAccount and runs a drill with nothing but the rights
// deploy/restore-test.yaml grants the restore test's own ServiceAccount,
// into the scratch namespace it creates (restricted Pod Security), with a
// storage class that retains volumes.
func TestRestoreTestAsTheServiceAccount(t *testing.T) {
	k := testenv.Kube(t)
	k.EnsureNamespace(t, "sidecar")
	k.Applier(t).ApplyFiles(t, "../../deploy/serviceaccount.yaml", "../../deploy/rbac.yaml", "../../deploy/restore-test.yaml")
	cfg, kubeconfig := k.ServiceAccountConfig(t, "sidecar", "archiver")
	drillCfg, drillKubeconfig := k.ServiceAccountConfig(t, "sidecar", "archiver-restore-test")
	testenv.WaitAllowed(t, cfg, authorizationv1.ResourceAttributes{Namespace: "sidecar", Verb: "get", Resource: "persistentvolumeclaims"})
	testenv.WaitAllowed(t, drillCfg, authorizationv1.ResourceAttributes{Namespace: "sidecar-restore-test", Verb: "create", Resource: "pods"})
	snap := k.SnapshotCRDs(t)
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
		"AWS_EC2_METADATA_DISABLED=true", "ARCHIVER_IMAGE=registry.example/archiver:test"}
	dest, data := "file://"+t.TempDir(), demoTree(t)
	r := cli(t, env, "snapshot", "--kubeconfig", kubeconfig, "--pvc", "sidecar/"+claim, "--mount", "sidecar/"+claim+"="+data, "--dest", dest, "-o", "json", "--poll-interval", "50ms")
	if r.code != 0 {
		t.Fatalf("snapshot as the ServiceAccount: exit %d: %s", r.code, r.stderr)
	}
	var sr snapshot.Result
	json.Unmarshal([]byte(r.stdout), &sr)
	c := &testenv.Cluster{K: k, Snap: snap, NS: "sidecar-restore-test", Data: map[string]string{sr.Volumes[0].Artifacts[0].ID: data}, Run: runPod,
		Reclaim: corev1.PersistentVolumeReclaimRetain}
	c.Start(t)
	r = cli(t, env, "restore-test", "--kubeconfig", drillKubeconfig, "--pvc", "sidecar/"+claim, "--namespace", "sidecar-restore-test", "--dest", dest,
		"--storage-class", "gp3", "--poll-interval", "100ms", "--timeout", "60s", "-o", "json")
	var res restoretest.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 || res.Status != "ok" {
		t.Fatalf("restore-test as the ServiceAccount: exit %d (%v)\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if len(res.Deleted) < 5 {
		t.Fatalf("deleted %v", res.Deleted)
	}
	// The scratch volume was provisioned Retain; archiver switched it to
	// Delete, so it went with its claim (no EBS volume left behind).
	eventually(t, 10*time.Second, noScratchVolumes(k, "sidecar-restore-test"))
}

// TestRestoreTestInterruptedCleansUp: SIGTERM (the pod being stopped)
// while the verifier runs; archiver deletes what it created and exits 130.
func TestRestoreTestInterruptedCleansUp(t *testing.T) {
	e := newDrillEnv(t)
	e.cluster.Hold = true
	e.cluster.Start(t)
	var out strings.Builder
	cmd := e.startDrill(t, &out, "--timeout", "60s", "-o", "json")
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", code, exitInterrupted, out.String())
	}
	var res restoretest.Result
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil || len(res.Deleted) < 5 {
		t.Fatalf("result %v: %s", err, out.String())
	}
	e.gone(t)
}

// TestRunRestoreTestJob: the restoreTest job of `archiver run`, on a
// secondary node (it needs no primary), publishes its measured time.
func TestRunRestoreTestJob(t *testing.T) {
	e := newDrillEnv(t)
	e.cluster.Start(t)
	conf := t.TempDir()
	os.WriteFile(filepath.Join(conf, "local.ini"), []byte("[node]\ntype=slave\n"), 0o644)
	cfg := writeConfig(t, fmt.Sprintf(`cluster: c1
securityServer: ss1
sync: {enabled: false, dest: "%s"}
snapshot: {enabled: false, pvcs: [%s/data]}
restoreTest:
  enabled: true
  schedule: "30 4 * * 1,4"
  storageClass: gp3
  image: registry.example/archiver:test
  timeout: 60s
primary: {confDir: %s}
lock: {file: %s}
metrics: {sink: cloudwatch, namespace: XRoad/Test, region: eu-west-1}
`, e.dest, e.ns, conf, filepath.Join(t.TempDir(), "lock")))
	for _, cmd := range []string{"run", "serve"} {
		if r := cli(t, e.env, cmd, "-c", cfg, "--job", "restore-tset"); r.code != exitUsage || !strings.Contains(r.stderr, "not an enabled job") {
			t.Fatalf("%s with a misspelt job: exit %d: %s", cmd, r.code, r.stderr)
		}
	}
	r := cli(t, e.env, "run", "-c", cfg, "--kubeconfig", e.k.Kubeconfig, "--job", "restore-test", "-o", "json")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	secs, ok := metricValue(e.fake, "restore-test", report.MetricRestoreSeconds)
	if !ok || secs <= 0 {
		t.Fatalf("RestoreTestSeconds = %v (sent %v)", secs, ok)
	}
	files, _ := snapshot.ScanContent(context.Background(), e.data)
	if v, _ := metricValue(e.fake, "restore-test", report.MetricRestoreVerified); v != float64(len(files)) {
		t.Errorf("RestoreTestFilesVerified = %v, want %d", v, len(files))
	}
	if v, _ := metricValue(e.fake, "restore-test", report.MetricSuccess); v != 1 {
		t.Errorf("JobSuccess = %v", v)
	}
	e.gone(t)
	// A verification failure fails the job and is counted.
	for _, f := range files {
		if f.Kind == "archive" {
			os.Remove(filepath.Join(e.data, f.Path))
			break
		}
	}
	r = cli(t, e.env, "run", "-c", cfg, "--kubeconfig", e.k.Kubeconfig, "--job", "restore-test", "-o", "json")
	if r.code != exitError || !strings.Contains(r.stdout, `"missing"`) {
		t.Fatalf("run with a missing file: exit %d\n%s", r.code, r.stdout)
	}
	if v, _ := metricValue(e.fake, "restore-test", report.MetricRestoreTestsFailed); v != 1 {
		t.Errorf("RestoreTestsFailed = %v", v)
	}
}

// TestRestoreTestOfTheS3Archives: the verifier pod restores the archives
// shipped to a real MinIO (SSE-KMS) into a scratch volume with the
// credentials its ServiceAccount would get, and re-reads them; an object
// altered in the bucket fails the test, named.
func TestRestoreTestOfTheS3Archives(t *testing.T) {
	s3env := testenv.S3(t)
	k := testenv.Kube(t)
	ns := k.Namespace(t)
	bucket := s3env.Bucket(t, false)
	dest := "s3://" + bucket + "/ss1"
	src := demoTree(t)
	if r := cli(t, s3env.Environ(), "sync", "--source", src, "--dest", dest, "--kms-key-id", s3env.KMSKey); r.code != 0 {
		t.Fatalf("sync: exit %d: %s", r.code, r.stderr)
	}
	c := &testenv.Cluster{K: k, Snap: k.SnapshotCRDs(t), NS: ns, Run: runPod, Env: s3env.Environ()}
	c.Start(t)
	args := []string{"restore-test", "--archives", "--kubeconfig", k.Kubeconfig, "--dest", dest, "--endpoint-url", s3env.Endpoint,
		"--namespace", ns, "--service-account", "default", "--poll-interval", "100ms", "--timeout", "60s", "-o", "json"}
	env := append(s3env.Environ(), "ARCHIVER_IMAGE=registry.example/archiver:test")
	r := cli(t, env, args...)
	var res restoretest.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 || res.Status != "ok" {
		t.Fatalf("exit %d (%v)\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if res.Kind != restoretest.KindArchives || res.Check.Verified != 15 || res.Check.Archives == 0 || res.Backup.RunID == "" {
		t.Fatalf("result %+v check %+v", res, res.Check)
	}
	// Replace one archive in the bucket with other bytes: restore refuses
	// it (SHA-256), the check names it missing, exit 4.
	cl := s3env.Client(t)
	ctx := context.Background()
	var victim string
	out, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("ss1/")})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out.Contents {
		if strings.HasSuffix(aws.ToString(o.Key), ".zip") {
			victim = aws.ToString(o.Key)
			break
		}
	}
	if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(victim), Body: strings.NewReader("not the archive"),
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(s3env.KMSKey)}); err != nil {
		t.Fatal(err)
	}
	r = cli(t, env, args...)
	res = restoretest.Result{}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != exitVerifyFail || res.Check == nil || len(res.Check.Problems) != 1 {
		t.Fatalf("altered object: exit %d (%v)\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if p := res.Check.Problems[0]; !strings.HasSuffix(victim, p.Path) {
		t.Fatalf("problem %+v, altered %s", p, victim)
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
