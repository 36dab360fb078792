package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/restoretest"
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

// scratchNS is deploy/'s namespace for the restore tests' scratch claims
// and verifier pods (settings.env ARCHIVER_SCRATCH_NAMESPACE).
const scratchNS = "sidecar-restore-test"

// deployRestoreTests applies deploy/ with its restore-test CronJob firing
// every minute on the snapshot e took into S3 (the sync and snapshot
// CronJobs suspended), the drill's timeout cut to timeout so a killed
// drill's objects are past their deadline soon, scratch claims of a class
// that retains volumes, and EC2 on the AWS fake.
func deployRestoreTests(t *testing.T, n testenv.NodeEnv, s3env testenv.S3Env, e *snapshotEnv, timeout string) {
	t.Helper()
	overlay, err := filepath.Abs("testdata/overlay")
	if err != nil {
		t.Fatal(err)
	}
	conf := endpointConfig(t, s3env, e.dest, nil)
	conf = replaceOnce(t, conf, `pvcs: ["${ARCHIVER_NAMESPACE}/${ARCHIVER_DATA_CLAIM}", "${ARCHIVER_NAMESPACE}/${ARCHIVER_CONF_CLAIM}"]   # both have content manifests`,
		`pvcs: ["${ARCHIVER_NAMESPACE}/${ARCHIVER_DATA_CLAIM}"]`)
	conf = replaceOnce(t, conf, "timeout: 30m", "timeout: "+timeout)
	// A class that retains its volumes: a killed drill's scratch volume must
	// go all the same when a later run sweeps it.
	conf = replaceOnce(t, conf, "storageClass: gp3 ", "storageClass: "+retainClass(t, n)+" ")
	ec2 := []map[string]any{{"op": "add", "path": "/spec/jobTemplate/spec/template/spec/containers/0/env/-",
		"value": map[string]string{"name": "AWS_ENDPOINT_URL_EC2", "value": e.fake.URL()}}}
	suspend := `[{"op": "add", "path": "/spec/suspend", "value": true}]`
	applyDeploy(t, n, overlay, "CronJob", "/spec/jobTemplate/spec/template/spec", conf, ec2,
		map[string]any{"target": map[string]string{"kind": "CronJob", "name": "xroad-archiver"}, "patch": suspend},
		map[string]any{"target": map[string]string{"kind": "CronJob", "name": "xroad-archiver-snapshot"}, "patch": suspend},
		map[string]any{"target": map[string]string{"kind": "CronJob", "name": "xroad-archiver-restore-test"},
			"patch": `[{"op": "replace", "path": "/spec/schedule", "value": "* * * * *"}]`})
}

// restoreTestJobs lists the Jobs of the restore-test CronJob, oldest first.
func restoreTestJobs(t *testing.T, n testenv.NodeEnv) []batchv1.Job {
	t.Helper()
	jobs, err := n.Client.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []batchv1.Job
	for _, j := range jobs.Items {
		if len(j.OwnerReferences) == 1 && j.OwnerReferences[0].Name == "xroad-archiver-restore-test" {
			out = append(out, j)
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].CreationTimestamp.Before(&out[k].CreationTimestamp) })
	return out
}

// TestRestoreTestPodKilledMidDrill: deploy/'s restore-test CronJob runs
// the drill of a real VolumeSnapshot on the node; its pod's container is
// SIGKILLed at the runtime while the drill's scratch claim exists (no
// cleanup can run). The next scheduled run completes ok, and once the
// killed drill's deadline has passed a run's sweep removes everything it
// left (verifier pod, scratch claim and its volume, VolumeSnapshot and
// content, through the real finalizers); the snapshot itself (Retain)
// stays.
func TestRestoreTestPodKilledMidDrill(t *testing.T) {
	n := testenv.Node(t)
	s3env := testenv.S3(t)
	testenv.Measure(t)
	bucket := s3env.Bucket(t, false)
	e := takeSnapshot(t, n, "us-east-1", "s3://"+bucket+"/ss1", s3env.Environ(), "--kms-key-id", s3env.KMSKey)
	// A 1m drill timeout: the killed drill's objects are past their
	// deadline (timeout + cleanup grace) 2 minutes after it started.
	deployRestoreTests(t, n, s3env, e, "1m")
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: restoretest.LabelComponent + "=" + restoretest.ComponentDrill}

	// Kill the first run's pod once its drill's scratch claim exists.
	var victim corev1.Pod
	eventually(t, 3*time.Minute, func() string {
		pvcs, err := n.Client.CoreV1().PersistentVolumeClaims(scratchNS).List(ctx, sel)
		if err != nil || len(pvcs.Items) == 0 {
			return fmt.Sprintf("no scratch claim yet (%v)", err)
		}
		jobs := restoreTestJobs(t, n)
		if len(jobs) == 0 {
			return "no restore-test Job"
		}
		pods, err := n.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + jobs[0].Name})
		if err != nil || len(pods.Items) != 1 || len(pods.Items[0].Status.ContainerStatuses) == 0 || pods.Items[0].Status.ContainerStatuses[0].State.Running == nil {
			return fmt.Sprintf("the restore-test pod is not running (%v)", err)
		}
		victim = pods.Items[0]
		return ""
	})
	n.KillContainer(t, victim.Status.ContainerStatuses[0].ContainerID)
	killed := time.Now()
	t.Logf("killed the container of %s mid-drill", victim.Name)
	if left := e.leftoversIn(t, scratchNS, 2); left == "" {
		t.Fatal("the kill left no drill object: it was not mid-drill")
	} else {
		t.Logf("the killed drill %s", left)
	}
	// The killed drill's scratch claim says until when it may still be live.
	pvcs, err := n.Client.CoreV1().PersistentVolumeClaims(scratchNS).List(ctx, sel)
	if err != nil || len(pvcs.Items) != 1 {
		t.Fatalf("the killed drill's scratch claim: %v %v", err, pvcs)
	}
	deadClaim := pvcs.Items[0].Name
	deadline, err := time.Parse(time.RFC3339, pvcs.Items[0].Annotations[restoretest.AnnotationDeadline])
	if err != nil {
		t.Fatalf("deadline annotation: %v", err)
	}

	// The next runs: the first completes ok; one started after the killed
	// drill's deadline sweeps its objects.
	var firstOK time.Duration
	eventually(t, 6*time.Minute, func() string {
		var states []string
		swept := false
		for _, j := range restoreTestJobs(t, n) {
			if j.Name == victim.Labels["batch.kubernetes.io/job-name"] {
				continue
			}
			if condition(&j, batchv1.JobFailed) {
				t.Fatalf("restore-test Job %s after the kill failed: %s", j.Name, jobLogs(t, n, j.Name))
			}
			if condition(&j, batchv1.JobComplete) {
				if firstOK == 0 {
					firstOK = time.Since(killed)
					t.Logf("a run completed ok %s after the kill: %s", firstOK.Round(time.Second), jobLogs(t, n, j.Name))
					// A run started before the killed drill's deadline
					// leaves its objects alone: they might be a slow, live
					// drill's.
					if j.CreationTimestamp.Time.Before(deadline) && time.Now().Before(deadline) {
						if c, err := n.Client.CoreV1().PersistentVolumeClaims(scratchNS).Get(ctx, deadClaim, metav1.GetOptions{}); err != nil || c.DeletionTimestamp != nil {
							t.Fatalf("a run started before the killed drill's deadline (%s) removed its scratch claim: %v", deadline.Format(time.RFC3339), err)
						}
					}
				}
				swept = swept || j.CreationTimestamp.Time.After(deadline)
			}
			states = append(states, fmt.Sprintf("%s active=%d", j.Name, j.Status.Active))
		}
		if !swept {
			return fmt.Sprintf("no run started after the killed drill's deadline has completed: %v", states)
		}
		return ""
	})
	n.Run(t, false, "patch", "cronjob", "-n", ns, "xroad-archiver-restore-test", "--type", "merge", "-p", `{"spec":{"suspend":true}}`)
	eventually(t, 3*time.Minute, func() string {
		for _, j := range restoreTestJobs(t, n) {
			if j.Status.Active > 0 {
				return "restore-test Job " + j.Name + " still running"
			}
		}
		return e.leftoversIn(t, scratchNS, 2)
	})
	t.Logf("nothing left %s after the kill", time.Since(killed).Round(time.Second))
	if _, err := os.Stat(filepath.Join(n.CSIRoot, "snapshots", e.snapID)); err != nil {
		t.Fatalf("the snapshot went with the drills (its content is Retain): %v", err)
	}
}

// jobLogs is the output of a Job's pod (archiver's JSON run report).
func jobLogs(t *testing.T, n testenv.NodeEnv, job string) string {
	t.Helper()
	ctx := context.Background()
	pods, err := n.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job})
	if err != nil || len(pods.Items) == 0 {
		return fmt.Sprintf("(no pod: %v)", err)
	}
	b, _ := n.Client.CoreV1().Pods(ns).GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	return string(b)
}

// TestKubeletRestartedMidUpload: kubelet crashes (SIGKILL) while the sync
// CronJob's pod uploads and comes back 5 s later with the same
// configuration; the pod's container runs on under containerd meanwhile.
// Either that run or a later scheduled one completes: every archive and
// backup is in the bucket with SSE-KMS and in the manifest, nothing was
// deleted locally, no multipart upload is left open, and the primary pod
// is still running.
func TestKubeletRestartedMidUpload(t *testing.T) {
	n := testenv.Node(t)
	s3env := testenv.S3(t)
	testenv.Measure(t)
	freshNamespace(t, n)
	bucket := s3env.Bucket(t, false)
	primary := startPrimary(t, n)
	volume := volumeDir(t, n, "pvc-data-sidecar")
	before := sums(t, volume)
	deployArchiver(t, n, s3env, "s3://"+bucket+"/ss1", "bandwidthLimit: 128KiB")
	pod := runningArchiverPod(t, n, nil)
	start := time.Now()
	n.RestartKubelet(t, 5*time.Second)
	t.Logf("kubelet restarted under %s (down 5 s) in %s", pod.Name, time.Since(start).Round(100*time.Millisecond))

	ctx := context.Background()
	var done string
	eventually(t, 6*time.Minute, func() string {
		jobs, err := n.Client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err.Error()
		}
		var states []string
		for _, j := range jobs.Items {
			if condition(&j, batchv1.JobComplete) {
				done = j.Name
				return ""
			}
			states = append(states, fmt.Sprintf("%s active=%d failed=%d", j.Name, j.Status.Active, j.Status.Failed))
		}
		return fmt.Sprintf("no run completed after the restart: %v", states)
	})
	t.Logf("Job %s completed %s after the restart began (the interrupted pod was %s's)", done, time.Since(start).Round(time.Second),
		pod.Labels["batch.kubernetes.io/job-name"])
	n.Run(t, false, "patch", "cronjob", "-n", ns, "xroad-archiver", "--type", "merge", "-p", `{"spec":{"suspend":true}}`)
	if p, err := n.Client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{}); err == nil {
		t.Logf("the pod that was uploading: %s %s", p.Status.Phase, podWhy(p))
	}
	checkShipped(t, s3env, bucket, "ss1", volume)
	if after := sums(t, volume); after != before {
		t.Errorf("the primary's volume changed:\nbefore\n%s\nafter\n%s", before, after)
	}
	if ups := s3env.Uploads(t, bucket, "ss1/"); len(ups) != 0 {
		t.Errorf("%d multipart uploads left open", len(ups))
	}
	p, err := n.Client.CoreV1().Pods(ns).Get(ctx, primary.Name, metav1.GetOptions{})
	if err != nil || p.Status.Phase != corev1.PodRunning || p.UID != primary.UID {
		t.Errorf("the primary after the restart: %v %s", err, podWhy(p))
	}
}
