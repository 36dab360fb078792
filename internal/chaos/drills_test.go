//go:build chaos

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/awsfake"
	"github.com/xroad-archiver/archiver/internal/restoretest"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/testenv"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

// scratch lists what is left of restore drills in ns on the node: the
// labelled objects and the scratch claims' volumes.
func scratch(k testenv.KubeEnv, snap snapclient.Interface, ns string) []string {
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: restoretest.LabelComponent + "=" + restoretest.ComponentDrill}
	var out []string
	pods, _ := k.Client.CoreV1().Pods(ns).List(ctx, sel)
	for _, p := range pods.Items {
		out = append(out, "Pod/"+p.Name)
	}
	pvcs, _ := k.Client.CoreV1().PersistentVolumeClaims(ns).List(ctx, sel)
	for _, p := range pvcs.Items {
		out = append(out, "PVC/"+p.Name)
	}
	cms, _ := k.Client.CoreV1().ConfigMaps(ns).List(ctx, sel)
	for _, p := range cms.Items {
		out = append(out, "ConfigMap/"+p.Name)
	}
	vss, _ := snap.SnapshotV1().VolumeSnapshots(ns).List(ctx, sel)
	for _, p := range vss.Items {
		out = append(out, "VolumeSnapshot/"+p.Name)
	}
	vscs, _ := snap.SnapshotV1().VolumeSnapshotContents().List(ctx, sel)
	for _, p := range vscs.Items {
		if p.Spec.VolumeSnapshotRef.Namespace == ns {
			out = append(out, "VolumeSnapshotContent/"+p.Name)
		}
	}
	pvs, _ := k.Client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	for _, pv := range pvs.Items {
		if r := pv.Spec.ClaimRef; r != nil && r.Namespace == ns && strings.HasPrefix(r.Name, "archiver-rt-") {
			out = append(out, "PV/"+pv.Name)
		}
	}
	return out
}

// TestSnapshotDrillCrashCampaign kills archiver snapshot (EBS through the
// wire-level AWS fake, content manifest into MinIO with SSE-KMS) and
// restore-test drills on the real test node (its snapshot-controller,
// csi-snapshotter, provisioner, pvc-protection and kubelet; the snapshot's
// data where the test CSI driver finds it) at random moments. After each
// kill the first clean run must exit 0; after a killed drill, the next
// drill (started once the killed one's deadline passed) must sweep every
// scratch object it left.
func TestSnapshotDrillCrashCampaign(t *testing.T) {
	t.Parallel() // each campaign has its own MinIO
	// A cycle on the node takes about a minute (the killed drill's
	// deadline is waited out); 3 by default, CHAOS_DRILL_CYCLES for more.
	cycles := envInt("CHAOS_DRILL_CYCLES", 3)
	n := testenv.Node(t)
	k := n.KubeEnv
	m := startMinIO(t)
	ns := k.Namespace(t)
	snap := snapclient.NewForConfigOrDie(k.Config)
	fake := awsfake.New(t)
	fake.AddVolume("eu-west-1", "vol-0ccccccccccccccc1", 4, "eu-west-1a")
	k.BoundClaim(t, ns, "data", &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "data-" + ns},
		Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("4Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: snapshot.DriverEBS, VolumeHandle: "vol-0ccccccccccccccc1"}}}})
	data := filepath.Join(t.TempDir(), "volume")
	if _, err := xroadgen.Generate(xroadgen.Demo(data)); err != nil {
		t.Fatal(err)
	}
	// The verifier runs as X-Road's uid: the volume's files are its own.
	if out, err := exec.Command("chown", "-R", "999:999", data).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	env := append(m.environ(), "AWS_ENDPOINT_URL_EC2="+fake.URL(), "AWS_ENDPOINT_URL_BACKUP="+fake.URL(), "AWS_REGION=eu-west-1",
		"ARCHIVER_IMAGE="+n.ArchiverImage)
	dest := []string{"--dest", "s3://chaos/snap", "--endpoint-url", m.url()}
	snapArgs := append([]string{"snapshot", "--kubeconfig", k.Kubeconfig, "--cluster", "chaos", "--pvc", ns + "/data", "--mount", ns + "/data=" + data,
		"--kms-key-id", kmsKey, "--keep-last", "3", "--poll-interval", "50ms", "-o", "json", "--log-level", "error"}, dest...)
	rnd := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 13))
	counts := map[string]int{}
	var snapIDs []string
	for i := 0; i < cycles; i++ {
		killAfter(t, rnd, 1500, env, snapArgs...)
		counts["snapshot_kills"]++
		code, stdout, out := runJSON(env, snapArgs...)
		var res snapshot.Result
		if code != 0 || json.Unmarshal(stdout, &res) != nil || len(res.Volumes) != 1 || len(res.Volumes[0].Artifacts) == 0 ||
			res.Volumes[0].Artifacts[0].State != "completed" {
			counts["snapshot_clean_not_ok"]++
			t.Errorf("cycle %d: the first clean snapshot after a kill exited %d: %s", i, code, oneLine(out))
			continue
		}
		snapIDs = append(snapIDs, res.Volumes[0].Artifacts[0].ID)
	}
	if len(snapIDs) == 0 {
		t.Fatal("no clean snapshot to drill")
	}
	latest := snapIDs[len(snapIDs)-1]
	// The link real EBS makes: the snapshot's data where the CSI driver
	// finds it.
	snapDir := filepath.Join(n.CSIRoot, "snapshots", latest)
	if out, err := exec.Command("cp", "-a", "--", data, snapDir).CombinedOutput(); err != nil {
		t.Fatalf("store the snapshot's data: %v %s", err, out)
	}
	t.Cleanup(func() { os.RemoveAll(snapDir) })
	const killedTimeout = 15 * time.Second
	drillArgs := func(timeout time.Duration) []string {
		return append([]string{"restore-test", "--kubeconfig", k.Kubeconfig, "--pvc", ns + "/data", "--snapshot", latest,
			"--storage-class", n.StorageClass, "--image", n.ArchiverImage, "--poll-interval", "500ms", "--timeout", timeout.String(),
			"-o", "json", "--log-level", "error"}, dest...)
	}
	for i := 0; i < cycles; i++ {
		started := time.Now()
		// A drill on the node takes about 10 s: the kill lands anywhere
		// from before its first object to after its cleanup.
		killAfter(t, rnd, 12000, env, drillArgs(killedTimeout)...)
		counts["drill_kills"]++
		if len(scratch(k, snap, ns)) > 0 {
			counts["drill_killed_with_scratch_objects"]++
		}
		// The killed drill's deadline (start + timeout + a cleanup grace
		// as long as the timeout, at most) passes: its objects are
		// leftovers now, which the next drill's sweep must remove.
		time.Sleep(time.Until(started.Add(2*killedTimeout + 2*time.Second)))
		code, stdout, out := runJSON(env, drillArgs(3*time.Minute)...)
		var res restoretest.Result
		if code != 0 || json.Unmarshal(stdout, &res) != nil || res.Status != "ok" {
			counts["drill_clean_not_ok"]++
			t.Errorf("cycle %d: the first clean drill after a kill exited %d: %s", i, code, oneLine(out))
		}
		if len(res.Leftovers) > 0 {
			counts["drill_swept_leftovers"]++
		}
		var left []string
		for end := time.Now().Add(2 * time.Minute); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
			if left = scratch(k, snap, ns); len(left) == 0 {
				break
			}
		}
		if len(left) > 0 {
			counts["scratch_left_after_sweep"]++
			t.Errorf("cycle %d: scratch objects left after the next drill's sweep: %v", i, left)
		}
		t.Logf("cycle %d: %s", i, time.Since(started).Round(100*time.Millisecond))
	}
	kv := map[string]any{"cycles": cycles, "aws_snapshots": len(fake.Snapshots("eu-west-1"))}
	for _, k := range []string{"snapshot_kills", "snapshot_clean_not_ok", "drill_kills", "drill_killed_with_scratch_objects", "drill_swept_leftovers",
		"drill_clean_not_ok", "scratch_left_after_sweep"} {
		kv[k] = counts[k]
	}
	report(t, "snapshot_drill", kv)
}

// runJSON runs archiver and returns its exit code, its stdout (the JSON
// result) and both streams for messages.
func runJSON(env []string, args ...string) (int, []byte, string) {
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, _ := cmd.Output()
	return cmd.ProcessState.ExitCode(), out, fmt.Sprintf("%s\n%s", out, stderr.String())
}
