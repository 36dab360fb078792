package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/testenv"
)

// runningArchiverPod waits for a pod of the sync CronJob whose container
// has been running for a while (uploading, at the bandwidth limit the
// test set) and returns it.
func runningArchiverPod(t *testing.T, n testenv.NodeEnv, exclude map[string]bool) corev1.Pod {
	t.Helper()
	var pod corev1.Pod
	eventually(t, 4*time.Minute, func() string {
		pods, err := n.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=archiver"})
		if err != nil {
			return err.Error()
		}
		for _, p := range pods.Items {
			if exclude[p.Name] || len(p.Status.ContainerStatuses) == 0 {
				continue
			}
			if r := p.Status.ContainerStatuses[0].State.Running; r != nil && time.Since(r.StartedAt.Time) > 3*time.Second {
				pod = p
				return ""
			}
		}
		return fmt.Sprintf("no archiver pod has been running for 3s (%d pods)", len(pods.Items))
	})
	return pod
}

// TestArchiverPodKilledMidUpload: the sync Job's pod is force-deleted
// (kubectl delete pod --force, as an operator or a drained node does)
// while it uploads, then the next pod's container is SIGKILLed at the
// runtime behind kubelet's back. A later scheduled run completes: every
// archive and backup is in the bucket with SSE-KMS and in the manifest,
// nothing was deleted locally, and no multipart upload is left open.
func TestArchiverPodKilledMidUpload(t *testing.T) {
	n := testenv.Node(t)
	s3env := testenv.S3(t)
	testenv.Measure(t)
	freshNamespace(t, n)
	bucket := s3env.Bucket(t, false)
	startPrimary(t, n)
	volume := volumeDir(t, n, "pvc-data-sidecar")
	before := sums(t, volume)
	// Slow enough (about 3 MB at 128 KiB/s) to be killed mid-upload.
	deployArchiver(t, n, s3env, "s3://"+bucket+"/ss1", "bandwidthLimit: 128KiB")

	first := runningArchiverPod(t, n, nil)
	n.Run(t, false, "delete", "pod", "-n", ns, first.Name, "--force", "--grace-period=0")
	t.Logf("force-deleted %s mid-upload", first.Name)

	second := runningArchiverPod(t, n, map[string]bool{first.Name: true})
	n.KillContainer(t, second.Status.ContainerStatuses[0].ContainerID)
	t.Logf("killed the container of %s at the runtime", second.Name)
	eventually(t, time.Minute, func() string {
		p, err := n.Client.CoreV1().Pods(ns).Get(context.Background(), second.Name, metav1.GetOptions{})
		if err != nil {
			return ""
		}
		if cs := p.Status.ContainerStatuses; len(cs) == 1 && cs[0].State.Terminated != nil && cs[0].State.Terminated.ExitCode == 137 {
			return ""
		}
		return "kubelet has not seen the kill: " + podWhy(p)
	})

	// The next scheduled run (the lease of the killed runs lapses after
	// lock.duration, 2m) completes.
	start := time.Now()
	eventually(t, 6*time.Minute, func() string {
		jobs, err := n.Client.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return err.Error()
		}
		var states []string
		for _, j := range jobs.Items {
			if condition(&j, batchv1.JobComplete) {
				return ""
			}
			states = append(states, fmt.Sprintf("%s active=%d failed=%d", j.Name, j.Status.Active, j.Status.Failed))
		}
		return fmt.Sprintf("no run completed after the kills: %v", states)
	})
	t.Logf("a run completed %s after the kills", time.Since(start).Round(time.Second))
	n.Run(t, false, "patch", "cronjob", "-n", ns, "xroad-archiver", "--type", "merge", "-p", `{"spec":{"suspend":true}}`)
	checkShipped(t, s3env, bucket, "ss1", volume)
	if after := sums(t, volume); after != before {
		t.Errorf("the primary's volume changed:\nbefore\n%s\nafter\n%s", before, after)
	}
	if ups := s3env.Uploads(t, bucket, "ss1/"); len(ups) != 0 {
		var keys []string
		for _, u := range ups {
			keys = append(keys, *u.Key)
		}
		t.Errorf("multipart uploads left open: %v", keys)
	}
}

func sums(t *testing.T, dir string) string {
	t.Helper()
	out, err := execOutput(testimagesBin(), "sum", dir)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}
