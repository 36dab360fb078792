package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/awsfake"
	"github.com/xroad-archiver/archiver/internal/dircheck"
	"github.com/xroad-archiver/archiver/internal/report"
	"github.com/xroad-archiver/archiver/internal/restoretest"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

var binary string // the archiver binary, built by TestMain, for the commands an operator runs

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "archiver-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "archiver")
	for pkg, out := range map[string]string{"../../../cmd/archiver": binary, "../../../tools/testimages": filepath.Join(dir, "testimages")} {
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, b)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func testimagesBin() string { return filepath.Join(filepath.Dir(binary), "testimages") }

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	return string(out), err
}

type cliResult struct {
	code           int
	stdout, stderr string
}

func cli(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return cliResult{cmd.ProcessState.ExitCode(), out.String(), errb.String()}
}

// snapshotEnv is the primary's data volume backed up the EBS way: the
// AWS fake plays EC2 (it knows the volume the test CSI driver
// provisioned), archiver snapshot records the content manifest from the
// volume's directory, and the snapshot's data is put where the test CSI
// driver (standing in for the EBS CSI driver) finds snapshots: the part of
// EBS neither the fake nor the driver can play alone.
type snapshotEnv struct {
	n      testenv.NodeEnv
	env    []string
	dest   string
	snapID string
	volume string // the primary's volume directory
	fake   *awsfake.Server
}

func newSnapshotEnv(t *testing.T, n testenv.NodeEnv) *snapshotEnv {
	t.Helper()
	return takeSnapshot(t, n, "eu-west-1", "file://"+t.TempDir(), nil)
}

// takeSnapshotOf is newSnapshotEnv with the primary's volume rewritten by
// prepare (on the host, before the snapshot).
func takeSnapshotOf(t *testing.T, n testenv.NodeEnv, prepare func(volume string)) *snapshotEnv {
	t.Helper()
	return takeSnapshotPrepared(t, n, "eu-west-1", "file://"+t.TempDir(), nil, prepare)
}

// takeSnapshot is takeSnapshotPrepared of the volume as the primary wrote it.
func takeSnapshot(t *testing.T, n testenv.NodeEnv, region, dest string, env []string, flags ...string) *snapshotEnv {
	t.Helper()
	return takeSnapshotPrepared(t, n, region, dest, env, nil, flags...)
}

// takeSnapshotPrepared starts the primary, lets prepare (when not nil)
// rewrite its data volume on the host, and snapshots the volume the EBS
// way in region into dest; env and flags are what dest needs beyond that
// (an S3 destination's endpoint, credentials and KMS key).
func takeSnapshotPrepared(t *testing.T, n testenv.NodeEnv, region, dest string, env []string, prepare func(string), flags ...string) *snapshotEnv {
	t.Helper()
	freshNamespace(t, n)
	startPrimary(t, n)
	e := &snapshotEnv{n: n, fake: awsfake.New(t), dest: dest, volume: volumeDir(t, n, "pvc-data-sidecar")}
	if prepare != nil {
		prepare(e.volume)
	}
	e.fake.AddVolume(region, filepath.Base(e.volume), 1, region+"a")
	e.env = append([]string{"AWS_ENDPOINT_URL=" + e.fake.URL(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true", "ARCHIVER_IMAGE=" + n.ArchiverImage}, env...)
	e.env = append(e.env, "AWS_REGION="+region)
	r := cli(t, e.env, append([]string{"snapshot", "--kubeconfig", n.Kubeconfig, "--pvc", ns + "/pvc-data-sidecar",
		"--mount", ns + "/pvc-data-sidecar=" + e.volume, "--dest", e.dest, "-o", "json", "--poll-interval", "50ms"}, flags...)...)
	if r.code != 0 {
		t.Fatalf("snapshot: exit %d: %s", r.code, r.stderr)
	}
	var sr snapshot.Result
	if err := json.Unmarshal([]byte(r.stdout), &sr); err != nil || len(sr.Volumes) != 1 || len(sr.Volumes[0].Artifacts) != 1 {
		t.Fatalf("snapshot result %v: %s", err, r.stdout)
	}
	e.snapID = sr.Volumes[0].Artifacts[0].ID
	snapDir := filepath.Join(n.CSIRoot, "snapshots", e.snapID)
	if out, err := exec.Command("cp", "-a", "--", e.volume, snapDir).CombinedOutput(); err != nil {
		t.Fatalf("store the snapshot's data: %v %s", err, out)
	}
	t.Cleanup(func() { os.RemoveAll(snapDir) })
	return e
}

func (e *snapshotEnv) restoreTest(t *testing.T, extra ...string) (cliResult, restoretest.Result) {
	t.Helper()
	args := append([]string{"restore-test", "--kubeconfig", e.n.Kubeconfig, "--pvc", ns + "/pvc-data-sidecar", "--dest", e.dest,
		"--snapshot", e.snapID, "--storage-class", e.n.StorageClass, "--image", e.n.ArchiverImage, "--timeout", "4m", "-o", "json"}, extra...)
	r := cli(t, e.env, args...)
	var res restoretest.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("exit %d, output is not a result: %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	return r, res
}

// leftovers lists what is left of drills on the node: the labelled
// objects, scratch volumes, and volumes of the test CSI driver other than
// the primary's two.
func (e *snapshotEnv) leftovers(t *testing.T, keepVolumes int) string {
	t.Helper()
	return e.leftoversIn(t, ns, keepVolumes)
}

// leftoversIn is leftovers with the drills' objects in namespace scratch.
func (e *snapshotEnv) leftoversIn(t *testing.T, scratch string, keepVolumes int) string {
	t.Helper()
	ns := scratch
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: restoretest.LabelComponent + "=" + restoretest.ComponentDrill}
	var left []string
	pods, _ := e.n.Client.CoreV1().Pods(ns).List(ctx, sel)
	for _, p := range pods.Items {
		left = append(left, "Pod/"+p.Name)
	}
	pvcs, _ := e.n.Client.CoreV1().PersistentVolumeClaims(ns).List(ctx, sel)
	for _, p := range pvcs.Items {
		left = append(left, "PVC/"+p.Name)
	}
	cms, _ := e.n.Client.CoreV1().ConfigMaps(ns).List(ctx, sel)
	for _, p := range cms.Items {
		left = append(left, "ConfigMap/"+p.Name)
	}
	sc := snapclient.NewForConfigOrDie(e.n.Config)
	vss, _ := sc.SnapshotV1().VolumeSnapshots(ns).List(ctx, metav1.ListOptions{})
	for _, p := range vss.Items {
		left = append(left, "VolumeSnapshot/"+p.Name)
	}
	vscs, _ := sc.SnapshotV1().VolumeSnapshotContents().List(ctx, metav1.ListOptions{})
	for _, p := range vscs.Items {
		left = append(left, "VolumeSnapshotContent/"+p.Name)
	}
	pvs, _ := e.n.Client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	for _, pv := range pvs.Items {
		if r := pv.Spec.ClaimRef; r != nil && strings.HasPrefix(r.Name, "archiver-rt-") {
			left = append(left, "PV/"+pv.Name)
		}
	}
	vols, _ := os.ReadDir(filepath.Join(e.n.CSIRoot, "volumes"))
	if len(vols) > keepVolumes {
		var names []string
		for _, v := range vols {
			names = append(names, v.Name())
		}
		left = append(left, fmt.Sprintf("CSI volumes %v", names))
	}
	if len(left) == 0 {
		return ""
	}
	return fmt.Sprintf("left behind: %v", left)
}

// drillObjects is what a drill created, as the API server had it while
// the drill ran (the drill deletes it all at its end).
type drillObjects struct {
	mu      sync.Mutex
	pod     *corev1.Pod
	claim   *corev1.PersistentVolumeClaim
	content *snapv1.VolumeSnapshotContent
}

// recordDrill polls the drill's labelled objects in namespace scratch
// until the test ends or stop is called, keeping the first of each kind.
func recordDrill(t *testing.T, n testenv.NodeEnv, scratch string) (*drillObjects, func()) {
	t.Helper()
	d := &drillObjects{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	sel := metav1.ListOptions{LabelSelector: restoretest.LabelComponent + "=" + restoretest.ComponentDrill}
	sc := snapclient.NewForConfigOrDie(n.Config)
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			pods, _ := n.Client.CoreV1().Pods(scratch).List(ctx, sel)
			pvcs, _ := n.Client.CoreV1().PersistentVolumeClaims(scratch).List(ctx, sel)
			vscs, _ := sc.SnapshotV1().VolumeSnapshotContents().List(ctx, sel)
			d.mu.Lock()
			if d.pod == nil && pods != nil && len(pods.Items) > 0 {
				d.pod = &pods.Items[0]
			}
			if d.claim == nil && pvcs != nil && len(pvcs.Items) > 0 {
				d.claim = &pvcs.Items[0]
			}
			if d.content == nil && vscs != nil && len(vscs.Items) > 0 {
				d.content = &vscs.Items[0]
			}
			d.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return d, stop
}

// TestRestoreTestOnARealNode: restore-test of a real EBS-style snapshot
// on the real node. The real snapshot-controller binds the pre-provisioned
// VolumeSnapshotContent (Retain) and the csi-snapshotter finds the snapshot
// in the CSI driver; the real provisioner restores the scratch claim from
// it when the verifier pod is scheduled (WaitForFirstConsumer); kubelet
// mounts it read-only into our image running under the restricted profile.
// Cleanup leaves nothing but the snapshot itself (Retain). Then a flipped
// byte in the snapshot fails the drill with exit 4, naming the file.
func TestRestoreTestOnARealNode(t *testing.T) {
	n := testenv.Node(t)
	testenv.Measure(t)
	e := newSnapshotEnv(t, n)
	files, err := snapshot.ScanContent(context.Background(), e.volume)
	if err != nil {
		t.Fatal(err)
	}
	drill, stop := recordDrill(t, n, ns)
	r, res := e.restoreTest(t)
	stop()
	if r.code != 0 || res.Status != "ok" || res.Check == nil {
		t.Fatalf("exit %d: %+v\n%s", r.code, res, r.stderr)
	}
	if res.Check.Verified != len(files) || res.Check.Expected != len(files) || res.Check.Archives == 0 {
		t.Fatalf("check %+v, want all %d files", res.Check, len(files))
	}
	if res.Backup.ID != e.snapID || res.RestoreSec <= 0 || res.TotalSec < res.RestoreSec {
		t.Fatalf("backup %s, restore %.2fs, total %.2fs", res.Backup.ID, res.RestoreSec, res.TotalSec)
	}
	t.Logf("drill of %d files on the real node: bound after %.1fs, verified in %.1fs, total %.1fs", res.Check.Expected, res.RestoreSec, res.VerifySec, res.TotalSec)
	// What the controllers were given: the EBS snapshot, kept on delete; a
	// claim at least as large as the source, of the class asked for,
	// restored from the VolumeSnapshot; a verifier pod that mounts it
	// read-only and runs as non-root.
	vsc, pvc, pod := drill.content, drill.claim, drill.pod
	if vsc == nil || pvc == nil || pod == nil {
		t.Fatalf("the drill's objects were not seen: content %v, claim %v, pod %v", vsc != nil, pvc != nil, pod != nil)
	}
	if vsc.Spec.Driver != snapshot.DriverEBS || vsc.Spec.Source.SnapshotHandle == nil || *vsc.Spec.Source.SnapshotHandle != e.snapID ||
		vsc.Spec.DeletionPolicy != snapv1.VolumeSnapshotContentRetain {
		t.Errorf("VolumeSnapshotContent %+v", vsc.Spec)
	}
	source, err := n.Client.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), "pvc-data-sidecar", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if req := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; req.Cmp(source.Spec.Resources.Requests[corev1.ResourceStorage]) < 0 ||
		pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != n.StorageClass || pvc.Spec.DataSource == nil || pvc.Spec.DataSource.Kind != "VolumeSnapshot" {
		t.Errorf("scratch claim %+v", pvc.Spec)
	}
	if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("verifier pod security context %+v", pod.Spec.SecurityContext)
	}
	for _, c := range pod.Spec.Containers {
		for _, m := range c.VolumeMounts {
			if !m.ReadOnly {
				t.Errorf("verifier container %s mounts %s writable", c.Name, m.MountPath)
			}
		}
	}
	for _, kind := range []string{"Pod/", "PersistentVolumeClaim/", "VolumeSnapshot/", "VolumeSnapshotContent/", "ConfigMap/"} {
		if !strings.Contains(strings.Join(res.Deleted, " "), kind) {
			t.Errorf("deleted %v, no %s", res.Deleted, kind)
		}
	}
	eventually(t, 2*time.Minute, func() string { return e.leftovers(t, 2) })
	if _, err := os.Stat(filepath.Join(n.CSIRoot, "snapshots", e.snapID)); err != nil {
		t.Fatalf("the snapshot went with the drill (its content is Retain): %v", err)
	}

	// The text output says the same. This drill's class retains its
	// volumes: archiver switches the scratch volume to Delete, so it goes
	// with its claim (no EBS volume left behind).
	retain := retainClass(t, n)
	r = cli(t, e.env, "restore-test", "--kubeconfig", n.Kubeconfig, "--pvc", ns+"/pvc-data-sidecar", "--dest", e.dest,
		"--snapshot", e.snapID, "--storage-class", retain, "--image", n.ArchiverImage, "--timeout", "4m")
	if r.code != 0 || !strings.Contains(r.stdout, "ok") || !strings.Contains(r.stdout, "files verified") {
		t.Fatalf("text: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	eventually(t, 2*time.Minute, func() string { return e.leftovers(t, 2) })

	// A flipped byte in one archive of the snapshot, and one backup gone.
	var archive, backup string
	for _, f := range files {
		switch {
		case f.Kind == "archive" && archive == "":
			archive = f.Path
		case f.Kind == "backup" && backup == "":
			backup = f.Path
		}
	}
	if archive == "" || backup == "" {
		t.Fatalf("the primary wrote no archive or no backup: %v", files)
	}
	if err := os.Remove(filepath.Join(n.CSIRoot, "snapshots", e.snapID, backup)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(n.CSIRoot, "snapshots", e.snapID, archive)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	b[len(b)/3] ^= 0x01
	if err := os.WriteFile(p, b, 0o640); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(p, st.ModTime(), st.ModTime())
	r, res = e.restoreTest(t)
	if r.code != 4 || res.Status != "failed" || res.Check == nil {
		t.Fatalf("corrupted snapshot: exit %d: %+v\n%s", r.code, res, r.stderr)
	}
	kinds := map[string]string{}
	for _, pr := range res.Check.Problems {
		kinds[pr.Path] = pr.Kind
	}
	if kinds[archive] != dircheck.Corrupted || kinds[backup] != dircheck.Missing || len(kinds) != 2 {
		t.Fatalf("problems %+v; want %s corrupted and %s missing", res.Check.Problems, archive, backup)
	}
	if !strings.Contains(res.Error, archive) || !strings.Contains(r.stderr, archive) {
		t.Fatalf("the error does not name %s: %q\n%s", archive, res.Error, r.stderr)
	}
	eventually(t, 2*time.Minute, func() string { return e.leftovers(t, 2) })
}

// retainClass is a storage class of the node's CSI driver whose volumes
// are retained when their claim goes (deleted when the test ends).
func retainClass(t *testing.T, n testenv.NodeEnv) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("retain-%d", time.Now().UnixNano())
	retain, wait := corev1.PersistentVolumeReclaimRetain, storagev1.VolumeBindingWaitForFirstConsumer
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: snapshot.DriverEBS,
		ReclaimPolicy: &retain, VolumeBindingMode: &wait}
	if _, err := n.Client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Client.StorageV1().StorageClasses().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// TestRestoreToPVCOnARealNode: archiver restore --to-pvc, the source
// claim taken from the snapshot's tags, leaves a bound, verified claim
// labelled as restored; a pod of another image mounts it and reads every
// file back with the bytes the primary wrote. Restoring to the same name
// again is refused and creates nothing. A snapshot that lacks a file its
// manifest records fails with exit 4 and leaves no claim to mount.
func TestRestoreToPVCOnARealNode(t *testing.T) {
	n := testenv.Node(t)
	testenv.Measure(t)
	e := newSnapshotEnv(t, n)
	ctx := context.Background()
	args := []string{"restore", "--kubeconfig", n.Kubeconfig, "--from", e.dest, "--snapshot", e.snapID, "--to-pvc", ns + "/restored",
		"--storage-class", n.StorageClass, "--image", n.ArchiverImage, "--timeout", "4m", "-o", "json"}
	r := cli(t, e.env, args...)
	var res restoretest.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 || res.Status != "ok" || res.PVC != ns+"/restored" {
		t.Fatalf("restore: exit %d (%v)\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	pvc, err := n.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "restored", metav1.GetOptions{})
	if err != nil || pvc.Status.Phase != corev1.ClaimBound || pvc.Labels[restoretest.LabelComponent] != restoretest.ComponentRestored || pvc.DeletionTimestamp != nil {
		t.Fatalf("restored claim: %v %+v %v", err, pvc.Status, pvc.Labels)
	}
	// The drill's own objects go; the restored claim and its volume stay.
	eventually(t, 2*time.Minute, func() string { return e.leftovers(t, 3) })
	// Again: the name is taken, nothing is created or changed.
	r = cli(t, e.env, args...)
	if r.code != 1 || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("second restore: exit %d: %s", r.code, r.stderr)
	}
	if left := e.leftovers(t, 3); left != "" {
		t.Fatalf("the refused restore created objects: %s", left)
	}
	uid := int64(999)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: ns},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: &uid, RunAsGroup: &uid},
			Containers: []corev1.Container{{Name: "read", Image: n.PrimaryImage, ImagePullPolicy: corev1.PullNever,
				Command: []string{"/testimages", "sum", "/data"}, VolumeMounts: []corev1.VolumeMount{{Name: "d", MountPath: "/data", ReadOnly: true}}}},
			Volumes: []corev1.Volume{{Name: "d", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "restored"}}}}}}
	if _, err := n.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, func() string {
		p, err := n.Client.CoreV1().Pods(ns).Get(ctx, "reader", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		if p.Status.Phase != corev1.PodSucceeded {
			return fmt.Sprintf("reader %s: %s", p.Status.Phase, podWhy(p))
		}
		return ""
	})
	logs, err := n.Client.CoreV1().Pods(ns).GetLogs("reader", &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := execOutput(testimagesBin(), "sum", e.volume)
	if err != nil {
		t.Fatal(err)
	}
	if string(logs) != want || len(want) == 0 {
		t.Fatalf("the pod read\n%s\nthe primary wrote\n%s", logs, want)
	}
	t.Logf("a pod read all %d files of the restored claim back", strings.Count(want, "\n"))

	// The snapshot lacks a file the content manifest records: exit 4, and
	// the unverified claim is not left for anyone to mount.
	files, err := snapshot.ScanContent(ctx, e.volume)
	if err != nil || len(files) == 0 {
		t.Fatalf("scan %s: %v", e.volume, err)
	}
	if err := os.Remove(filepath.Join(n.CSIRoot, "snapshots", e.snapID, files[0].Path)); err != nil {
		t.Fatal(err)
	}
	r = cli(t, e.env, "restore", "--kubeconfig", n.Kubeconfig, "--from", e.dest, "--snapshot", e.snapID, "--to-pvc", ns+"/unverified",
		"--pvc", ns+"/pvc-data-sidecar", "--storage-class", n.StorageClass, "--image", n.ArchiverImage, "--timeout", "4m", "-o", "json")
	res = restoretest.Result{}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 4 || res.PVC != "" || !strings.Contains(res.Error, "was removed") {
		t.Fatalf("unverified restore: exit %d (%v)\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	eventually(t, 2*time.Minute, func() string {
		if _, err := n.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "unverified", metav1.GetOptions{}); err == nil {
			return "the unverified claim is still there"
		}
		return e.leftovers(t, 3)
	})
}

// TestRestoreTestOfAVanishedSnapshotEndsWithTheControllersError: the EBS
// snapshot the drill restores is gone from the storage (deleted behind
// archiver's back after EC2 listed it). The real csi-snapshotter cannot
// find it through the CSI driver and the VolumeSnapshot reports an error;
// the drill ends with that error well before its timeout, exit 1, and
// leaves nothing behind.
func TestRestoreTestOfAVanishedSnapshotEndsWithTheControllersError(t *testing.T) {
	n := testenv.Node(t)
	testenv.Measure(t)
	e := newSnapshotEnv(t, n)
	if err := os.RemoveAll(filepath.Join(n.CSIRoot, "snapshots", e.snapID)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r, res := e.restoreTest(t, "--timeout", "3m")
	took := time.Since(start)
	if r.code != 1 || res.Status != "error" || strings.Contains(res.Error, "timed out") || took > 2*time.Minute {
		t.Fatalf("exit %d after %s: %q\n%s", r.code, took.Round(time.Second), res.Error, r.stderr)
	}
	t.Logf("the drill ended after %s with: %s", took.Round(100*time.Millisecond), res.Error)
	eventually(t, 2*time.Minute, func() string { return e.leftovers(t, 2) })
}

// TestRestoreTestUnschedulableVerifierTimesOutWithTheSchedulersReason:
// the node takes no new pods (a NoSchedule taint, as a cordoned or full
// node); the real scheduler leaves the verifier pod Pending and the drill
// times out with the scheduler's own reason, exit 1, and leaves nothing
// behind.
func TestRestoreTestUnschedulableVerifierTimesOutWithTheSchedulersReason(t *testing.T) {
	n := testenv.Node(t)
	testenv.Measure(t)
	e := newSnapshotEnv(t, n)
	taint := "archiver.test/no-drills=now:NoSchedule"
	n.Run(t, false, "taint", "node", n.Name, taint)
	t.Cleanup(func() { n.Run(t, true, "taint", "node", n.Name, "archiver.test/no-drills-") })
	r, res := e.restoreTest(t, "--timeout", "40s")
	if r.code != 1 || res.Status != "error" || !strings.Contains(res.Error, "timed out") || !strings.Contains(res.Error, "untolerated taint") {
		t.Fatalf("exit %d: %q\n%s", r.code, res.Error, r.stderr)
	}
	t.Logf("the drill ended with: %s", res.Error)
	eventually(t, 2*time.Minute, func() string { return e.leftovers(t, 2) })
}

// TestRestoreTestStoppedMidDrillCleansUp: archiver gets SIGTERM (its pod
// being stopped) while the verifier pod runs on the node; it deletes
// everything it created through the real finalizers and exits 130
// without waiting for a later sweep.
func TestRestoreTestStoppedMidDrillCleansUp(t *testing.T) {
	n := testenv.Node(t)
	testenv.Measure(t)
	e := newSnapshotEnv(t, n)
	args := []string{"restore-test", "--kubeconfig", n.Kubeconfig, "--pvc", ns + "/pvc-data-sidecar", "--dest", e.dest,
		"--snapshot", e.snapID, "--storage-class", n.StorageClass, "--image", n.ArchiverImage, "--timeout", "3m", "-o", "json"}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), e.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eventually(t, 2*time.Minute, func() string {
		pods, err := n.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: restoretest.LabelComponent + "=" + restoretest.ComponentDrill})
		if err != nil || len(pods.Items) == 0 {
			return fmt.Sprintf("no verifier pod yet (%v)", err)
		}
		return ""
	})
	cmd.Process.Signal(syscall.SIGTERM)
	stopped := time.Now()
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d, want 130\n%s\n%s", code, out.String(), errb.String())
	}
	var res restoretest.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res.Deleted) < 5 {
		t.Fatalf("result %v: %s", err, out.String())
	}
	eventually(t, time.Minute, func() string { return e.leftovers(t, 2) })
	t.Logf("stopped mid-drill: exited and deleted %d objects; nothing left %s after the SIGTERM", len(res.Deleted), time.Since(stopped).Round(100*time.Millisecond))
}

// metricValue is the last value of a metric archiver sent the AWS fake's
// CloudWatch for a job (namespace XRoad/Test).
func metricValue(fake *awsfake.Server, job, name string) (float64, bool) {
	return fake.MetricValue("XRoad/Test", job, name)
}

// TestRunRestoreTestJobOnARealNode: the restoreTest job of archiver run,
// on a secondary (it needs no primary), drills the snapshot on the node
// and publishes its measured time and file count; a file missing from the
// snapshot fails the job and is counted.
func TestRunRestoreTestJobOnARealNode(t *testing.T) {
	n := testenv.Node(t)
	testenv.Measure(t)
	e := newSnapshotEnv(t, n)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "local.ini"), []byte("[node]\ntype=slave\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	conf := fmt.Sprintf(`cluster: c1
securityServer: ss1
sync: {enabled: false, dest: "%s"}
snapshot: {enabled: false, pvcs: [%s/pvc-data-sidecar]}
restoreTest:
  enabled: true
  schedule: "30 4 * * 1,4"
  storageClass: %s
  image: %s
  timeout: 4m
primary: {confDir: %s}
lock: {file: %s}
metrics: {sink: cloudwatch, namespace: XRoad/Test, region: eu-west-1}
`, e.dest, ns, n.StorageClass, n.ArchiverImage, dir, filepath.Join(dir, "lock"))
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cli(t, e.env, "run", "-c", cfg, "--kubeconfig", n.Kubeconfig, "--job", "restore-test", "-o", "json")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	secs, ok := metricValue(e.fake, "restore-test", report.MetricRestoreSeconds)
	if !ok || secs <= 0 {
		t.Fatalf("RestoreTestSeconds = %v (sent %v)", secs, ok)
	}
	files, err := snapshot.ScanContent(context.Background(), e.volume)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := metricValue(e.fake, "restore-test", report.MetricRestoreVerified); v != float64(len(files)) {
		t.Errorf("RestoreTestFilesVerified = %v, want %d", v, len(files))
	}
	if v, _ := metricValue(e.fake, "restore-test", report.MetricSuccess); v != 1 {
		t.Errorf("JobSuccess = %v", v)
	}
	t.Logf("run --job restore-test on the real node: restore %.1fs, %d files verified", secs, len(files))
	eventually(t, 2*time.Minute, func() string { return e.leftovers(t, 2) })
	// A verification failure fails the job and is counted.
	for _, f := range files {
		if f.Kind == "archive" {
			if err := os.Remove(filepath.Join(n.CSIRoot, "snapshots", e.snapID, f.Path)); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	r = cli(t, e.env, "run", "-c", cfg, "--kubeconfig", n.Kubeconfig, "--job", "restore-test", "-o", "json")
	if r.code != 1 || !strings.Contains(r.stdout, `"missing"`) {
		t.Fatalf("run with a missing file: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if v, _ := metricValue(e.fake, "restore-test", report.MetricRestoreTestsFailed); v != 1 {
		t.Errorf("RestoreTestsFailed = %v", v)
	}
	eventually(t, 2*time.Minute, func() string { return e.leftovers(t, 2) })
}
