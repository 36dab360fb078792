package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/awsfake"
	"github.com/xroad-archiver/archiver/internal/report"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

// metricValue returns the value of the last datum named name for job.
func metricValue(fake *awsfake.Server, job, name string) (float64, bool) {
	return fake.MetricValue("XRoad/Test", job, name)
}

func TestRunPublishesMetrics(t *testing.T) {
	fake := awsfake.New(t)
	src := demoTree(t)
	dest := t.TempDir()
	cfg := func(dest, prune string) string {
		return writeConfig(t, fmt.Sprintf(`cluster: c1
securityServer: EE/GOV/70000310/ss1
sync:
  enabled: true
  source: %s
  dest: file://%s
%s
lock: {file: %s}
primary: {confDir: %s}
metrics: {sink: cloudwatch, namespace: XRoad/Test, region: eu-west-1}
`, src, dest, prune, filepath.Join(t.TempDir(), "lock"), t.TempDir()))
	}
	env := []string{"AWS_ENDPOINT_URL=" + fake.URL(), "AWS_ACCESS_KEY_ID=t", "AWS_SECRET_ACCESS_KEY=t", "AWS_REGION=eu-west-1", "AWS_EC2_METADATA_DISABLED=true"}
	want := func(step, name string, v float64) {
		t.Helper()
		if got, ok := metricValue(fake, "sync", name); !ok || got != v {
			t.Errorf("%s: %s = %v (sent %v), want %v", step, name, got, ok, v)
		}
	}

	// A successful run.
	if r := cli(t, env, "run", "-c", cfg(dest, "")); r.code != 0 {
		t.Fatalf("run: %d %s", r.code, r.stderr)
	}
	want("ok run", report.MetricSuccess, 1)
	want("ok run", report.MetricFailure, 0)
	want("ok run", report.MetricFilesShipped, 15)
	want("ok run", report.MetricBacklogFiles, 0)
	if _, ok := metricValue(fake, "sync", report.MetricLastBackupAge); !ok {
		t.Error("no LastBackupAgeSeconds")
	}

	// A partial run: one archived object vanished, so pruning cannot prove it.
	entries, _ := os.ReadDir(dest)
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".zip" {
			os.Remove(filepath.Join(dest, e.Name()))
			break
		}
	}
	if r := cli(t, env, "run", "-c", cfg(dest, "  prune: {olderThan: 1h}")); r.code != exitPartial {
		t.Fatalf("partial run: exit %d %s", r.code, r.stderr)
	}
	want("partial run", report.MetricPartial, 1)
	want("partial run", report.MetricSuccess, 0)
	want("partial run", report.MetricFilesFailed, 1)

	// A failed run: the destination cannot be created.
	if r := cli(t, env, "run", "-c", cfg("/proc/archiver-cannot-write", "")); r.code != exitError {
		t.Fatalf("failed run: exit %d %s", r.code, r.stderr)
	}
	want("failed run", report.MetricFailure, 1)

	// The metrics endpoint fails: the run's outcome is unchanged.
	fake.Inject("PutMetricData", 100, awsfake.InternalError)
	r := cli(t, env, "run", "-c", cfg(t.TempDir(), ""))
	if r.code != 0 {
		t.Fatalf("run with failing metrics: exit %d, want 0 (%s)", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "metrics not published") {
		t.Errorf("metrics failure not logged: %s", r.stderr)
	}
}

func TestFailedRunRecordsAnEvent(t *testing.T) {
	k := testenv.Kube(t)
	ns := k.Namespace(t)
	ctx := context.Background()
	// No controller-manager runs here to create the default ServiceAccount.
	k.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if _, err := k.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "archiver-xyz"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "archiver", Image: "archiver"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, fmt.Sprintf("sync: {enabled: true, source: %s, dest: 'file:///proc/archiver-cannot-write'}\nlock: {file: %s}\nprimary: {confDir: %s, override: true}\n",
		demoTree(t), filepath.Join(t.TempDir(), "lock"), t.TempDir()))
	r := cli(t, []string{"POD_NAME=archiver-xyz", "POD_NAMESPACE=" + ns}, "run", "-c", cfg, "--kubeconfig", k.Kubeconfig)
	if r.code != exitError {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	evs, err := k.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs.Items) != 1 || evs.Items[0].Reason != "ArchiverJobFailed" || evs.Items[0].InvolvedObject.Name != "archiver-xyz" || evs.Items[0].Type != "Warning" {
		t.Fatalf("events %+v", evs.Items)
	}
}

// TestAlarmsApplyThenPlanThroughTheCLI: `alarms apply --region` (no region
// in the config or the environment) creates every alarm, and a plan after
// it has nothing to change.
func TestAlarmsApplyThenPlanThroughTheCLI(t *testing.T) {
	fake := awsfake.New(t)
	cfg := writeConfig(t, `cluster: c1
securityServer: ss1
sync: {enabled: true, source: /var/lib/xroad, dest: file:///tmp/x}
alarms: {actions: ["arn:aws:sns:eu-west-1:123456789012:oncall"]}
`)
	env := []string{"AWS_ENDPOINT_URL=" + fake.URL(), "AWS_ACCESS_KEY_ID=t", "AWS_SECRET_ACCESS_KEY=t", "AWS_REGION=", "AWS_DEFAULT_REGION=",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/nonexistent"}
	if r := cli(t, env, "alarms", "plan", "-c", cfg); r.code != exitUsage || !strings.Contains(r.stderr, "--region") {
		t.Fatalf("no region: exit %d %s", r.code, r.stderr)
	}
	r := cli(t, env, "alarms", "apply", "-c", cfg, "--region", "eu-west-1", "-o", "json")
	if r.code != 0 || strings.Count(r.stdout, `"create"`) != len(fake.Alarms("eu-west-1")) || len(fake.Alarms("eu-west-1")) != 6 { // sync: failed, no-success, partial, backlog, no-new-archive, source-empty
		t.Fatalf("apply: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = cli(t, env, "alarms", "plan", "-c", cfg, "--region", "eu-west-1", "-o", "json")
	if r.code != 0 || strings.Count(r.stdout, `"unchanged"`) != 6 {
		t.Fatalf("plan after apply: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// TestScheduledVerifyPublishesWhatItFound: the verify job re-reads the
// destination on a secondary too (no primary, no lock needed), publishes
// what it re-read and the problems it found, and fails on a damaged object.
func TestScheduledVerifyPublishesWhatItFound(t *testing.T) {
	fake := awsfake.New(t)
	src, dest, conf := demoTree(t), t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(conf, "node.ini"), []byte("[node]\ntype=secondary\n"), 0o644)
	cfg := writeConfig(t, fmt.Sprintf(`cluster: c1
securityServer: ss1
sync: {enabled: true, source: %s, dest: "file://%s"}
verify: {enabled: true, schedule: "0 5 * * *", samplePercent: 100}
lock: {file: %s}
primary: {confDir: %s}
metrics: {sink: cloudwatch, namespace: XRoad/Test, region: eu-west-1}
`, src, dest, filepath.Join(t.TempDir(), "lock"), conf))
	env := []string{"AWS_ENDPOINT_URL=" + fake.URL(), "AWS_ACCESS_KEY_ID=t", "AWS_SECRET_ACCESS_KEY=t", "AWS_REGION=eu-west-1", "AWS_EC2_METADATA_DISABLED=true"}
	// This node is a secondary: sync refuses, so ship as the primary would.
	if r := cli(t, env, "run", "-c", cfg, "--job", "sync"); r.code != exitSecondary {
		t.Fatalf("sync on a secondary: exit %d %s", r.code, r.stderr)
	}
	if r := cli(t, env, "sync", "--source", src, "--dest", "file://"+dest); r.code != 0 {
		t.Fatalf("sync: exit %d %s", r.code, r.stderr)
	}
	r := cli(t, env, "run", "-c", cfg, "--job", "verify")
	if r.code != 0 {
		t.Fatalf("verify job on a secondary: exit %d %s", r.code, r.stderr)
	}
	if v, ok := metricValue(fake, "verify", report.MetricVerifyFilesReread); !ok || v != 15 {
		t.Errorf("VerifyFilesReread = %v (%v)", v, ok)
	}
	if v, _ := metricValue(fake, "verify", report.MetricVerifyProblems); v != 0 {
		t.Errorf("VerifyProblems = %v on a clean destination", v)
	}
	entries, _ := filepath.Glob(filepath.Join(dest, "mlog-EE_GOV*.zip"))
	b, _ := os.ReadFile(entries[0])
	b[200] ^= 0xff
	os.WriteFile(entries[0], b, 0o640)
	r = cli(t, env, "run", "-c", cfg, "--job", "verify")
	if r.code != exitError {
		t.Fatalf("verify job on a damaged destination: exit %d %s", r.code, r.stderr)
	}
	if v, _ := metricValue(fake, "verify", report.MetricVerifyProblems); v < 1 {
		t.Errorf("VerifyProblems = %v after damage", v)
	}
	if v, _ := metricValue(fake, "verify", report.MetricFailure); v != 1 {
		t.Errorf("JobFailure = %v after damage", v)
	}
}
