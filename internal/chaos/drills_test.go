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

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/awsfake"
	"github.com/xroad-archiver/archiver/internal/restoretest"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/testenv"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

// runPod is the fake kubelet's container runtime: the archiver binary.
func runPod(ctx context.Context, args, env []string) int {
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Run()
	return cmd.ProcessState.ExitCode()
}

// scratch lists what is left of restore drills in ns and cluster-wide.
func scratch(k testenv.KubeEnv, c *testenv.Cluster, ns string) []string {
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
	vss, _ := c.Snap.SnapshotV1().VolumeSnapshots(ns).List(ctx, sel)
	for _, p := range vss.Items {
		out = append(out, "VolumeSnapshot/"+p.Name)
	}
	vscs, _ := c.Snap.SnapshotV1().VolumeSnapshotContents().List(ctx, sel)
	for _, p := range vscs.Items {
		if p.Spec.VolumeSnapshotRef.Namespace == ns {
			out = append(out, "VolumeSnapshotContent/"+p.Name)
		}
	}
	return out
}

// TestSnapshotDrillCrashCampaign kills archiver snapshot (EBS through the
// wire-level AWS fake, content manifest into MinIO with SSE-KMS) and
// restore-test drills (real kube-apiserver, controllers and kubelet played
// by testenv.Cluster) at random moments. After each kill the first clean
// run must exit 0; after a killed drill, the next drill (started once the
// killed one's deadline passed) must sweep every scratch object it left.
func TestSnapshotDrillCrashCampaign(t *testing.T) {
	t.Parallel() // each campaign has its own MinIO
	cycles := envInt("CHAOS_DRILL_CYCLES", 6)
	k := testenv.Kube(t)
	m := startMinIO(t)
	ns := k.Namespace(t)
	snap := k.SnapshotCRDs(t)
	fake := awsfake.New(t)
	fake.AddVolume("eu-west-1", "vol-0ccccccccccccccc1", 4, "eu-west-1a")
	k.BoundClaim(t, ns, "data", &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "data-" + ns},
		Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("4Gi")},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: snapshot.DriverEBS, VolumeHandle: "vol-0ccccccccccccccc1"}}}})
	data := filepath.Join(t.TempDir(), "volume")
	if _, err := xroadgen.Generate(xroadgen.Demo(data)); err != nil {
		t.Fatal(err)
	}
	env := append(m.environ(), "AWS_ENDPOINT_URL_EC2="+fake.URL(), "AWS_ENDPOINT_URL_BACKUP="+fake.URL(), "AWS_REGION=eu-west-1",
		"ARCHIVER_IMAGE=registry.example/archiver:chaos")
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
	cluster := &testenv.Cluster{K: k, Snap: snap, NS: ns, Data: map[string]string{latest: data}, Run: runPod}
	cluster.Start(t)
	drillArgs := func(timeout string) []string {
		return append([]string{"restore-test", "--kubeconfig", k.Kubeconfig, "--pvc", ns + "/data", "--snapshot", latest,
			"--storage-class", "gp3", "--poll-interval", "100ms", "--timeout", timeout, "-o", "json", "--log-level", "error"}, dest...)
	}
	for i := 0; i < cycles; i++ {
		killAfter(t, rnd, 3000, env, drillArgs("3s")...)
		counts["drill_kills"]++
		if len(scratch(k, cluster, ns)) > 0 {
			counts["drill_killed_with_scratch_objects"]++
		}
		// The killed drill's deadline (start + timeout + a cleanup grace
		// as long as the timeout, at most) passes: its objects are
		// leftovers now, which the next drill's sweep must remove.
		time.Sleep(6500 * time.Millisecond)
		code, stdout, out := runJSON(env, drillArgs("60s")...)
		var res restoretest.Result
		if code != 0 || json.Unmarshal(stdout, &res) != nil || res.Status != "ok" {
			counts["drill_clean_not_ok"]++
			t.Errorf("cycle %d: the first clean drill after a kill exited %d: %s", i, code, oneLine(out))
		}
		var left []string
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if left = scratch(k, cluster, ns); len(left) == 0 {
				break
			}
		}
		if len(left) > 0 {
			counts["scratch_left_after_sweep"]++
			t.Errorf("cycle %d: scratch objects left after the next drill's sweep: %v", i, left)
		}
	}
	kv := map[string]any{"cycles": cycles, "aws_snapshots": len(fake.Snapshots("eu-west-1"))}
	for _, k := range []string{"snapshot_kills", "snapshot_clean_not_ok", "drill_kills", "drill_killed_with_scratch_objects", "drill_clean_not_ok", "scratch_left_after_sweep"} {
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
