package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/testenv"
)

// serveOverlay is deploy/ switched to serve mode the way its
// kustomization.yaml tells an operator to (deployment.yaml instead of
// cronjob.yaml), under the same test overlay as the CronJob tests. It
// returns the overlay's directory.
func serveOverlay(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := "../../../deploy"
	if err := os.Mkdir(filepath.Join(dir, "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "kustomization.yaml" {
			k := replaceOnce(t, string(b), "\n- cronjob.yaml\n", "\n")
			k = replaceOnce(t, k, "\n# - deployment.yaml ", "\n- deployment.yaml #")
			b = []byte(k)
		}
		if err := os.WriteFile(filepath.Join(dir, "deploy", e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile("testdata/overlay/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	k := replaceOnce(t, string(b), "\n- ../../../../../deploy\n", "\n- ../deploy\n")
	if err := os.MkdirAll(filepath.Join(dir, "overlay"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "overlay", "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "overlay")
}

// freePort is a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestDeployedServeShipsOnItsSchedule: deploy/ in serve mode (the
// Deployment instead of the CronJobs, as its kustomization says) on the
// real node. The pod is scheduled beside the primary, becomes Ready
// through kubelet's probes of /readyz, runs its sync on the configuration's
// schedule and ships every archive and backup to MinIO with SSE-KMS; the
// manifest says so and /metrics counts the run. The test's layer changes
// only the schedule (every minute), the jitter and the listen address
// (loopback, a free port: the pod shares the host's network).
func TestDeployedServeShipsOnItsSchedule(t *testing.T) {
	n := testenv.Node(t)
	s3env := testenv.S3(t)
	testenv.Measure(t)
	freshNamespace(t, n)
	bucket := s3env.Bucket(t, false)
	primary := startPrimary(t, n)
	port := freePort(t)
	conf := endpointConfig(t, s3env, "s3://"+bucket+"/ss1", nil)
	conf = replaceOnce(t, conf, `schedule: "15 * * * *"`, `schedule: "* * * * *"`)
	conf = replaceOnce(t, conf, "jitter: 5m", "jitter: 1s")
	conf = replaceOnce(t, conf, `listen: ":8080"`, fmt.Sprintf(`listen: "127.0.0.1:%d"`, port))
	ops := []map[string]any{
		{"op": "replace", "path": "/spec/template/spec/containers/0/ports/0/containerPort", "value": port},
		{"op": "add", "path": "/spec/template/spec/containers/0/readinessProbe/httpGet/host", "value": "127.0.0.1"},
		{"op": "add", "path": "/spec/template/spec/containers/0/livenessProbe/httpGet/host", "value": "127.0.0.1"},
	}
	start := time.Now()
	applyDeploy(t, n, serveOverlay(t), "Deployment", "/spec/template/spec", conf, ops)
	ctx := context.Background()

	var pod corev1.Pod
	eventually(t, 3*time.Minute, func() string {
		pods, err := n.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=serve"})
		if err != nil {
			return err.Error()
		}
		if len(pods.Items) != 1 {
			return fmt.Sprintf("%d serve pods", len(pods.Items))
		}
		pod = pods.Items[0]
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return ""
			}
		}
		return fmt.Sprintf("serve pod %s not Ready: %s %s", pod.Name, pod.Status.Phase, podWhy(&pod))
	})
	t.Logf("serve pod %s Ready %s after the apply", pod.Name, time.Since(start).Round(time.Second))
	if pod.Spec.NodeName != primary.Spec.NodeName || !pod.Spec.HostNetwork {
		t.Errorf("serve pod on node %q (hostNetwork %v), primary on %q", pod.Spec.NodeName, pod.Spec.HostNetwork, primary.Spec.NodeName)
	}
	if cs := pod.Status.ContainerStatuses; len(cs) != 1 || !strings.HasSuffix(cs[0].Image, n.ArchiverImage) {
		t.Errorf("container status %+v, want image %s", cs, n.ArchiverImage)
	}

	// The first scheduled sync finishes ok.
	eventually(t, 3*time.Minute, func() string {
		logs, err := n.Client.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			return err.Error()
		}
		for _, l := range strings.Split(string(logs), "\n") {
			if strings.Contains(l, "job finished") && (strings.Contains(l, `"job":"sync"`) || strings.Contains(l, "job=sync")) {
				if strings.Contains(l, `"status":"ok"`) || strings.Contains(l, "status=ok") {
					return ""
				}
				t.Fatalf("the scheduled sync did not finish ok: %s", l)
			}
		}
		return "no sync finished yet:\n" + string(logs)
	})
	t.Logf("the scheduled sync finished %s after the apply", time.Since(start).Round(time.Second))
	// The run's counters move once the whole run has ended (lock released,
	// report published), a moment after the job's "job finished" line.
	eventually(t, 30*time.Second, func() string {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err != nil {
			return err.Error()
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(metrics), `archiver_job_runs_total{job="sync",status="ok"}`) ||
			!strings.Contains(string(metrics), `archiver_job_last_success_timestamp_seconds{job="sync"}`) {
			return "/metrics does not count the ok sync:\n" + string(metrics)
		}
		return ""
	})
	checkShipped(t, s3env, bucket, "ss1", volumeDir(t, n, "pvc-data-sidecar"))
}
