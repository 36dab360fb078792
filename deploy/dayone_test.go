package deploy

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/xroad-archiver/archiver/internal/awsfake"
	"github.com/xroad-archiver/archiver/internal/testenv"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

// TestDayOneOnTheGuidesDeployment walks the day-one path on the real API
// server: deploy/ applied as shipped (the guide's namespace sidecar), a
// stand-in for the guide's primary (its labels and claim, with the
// deploy/sidecar component's data volume) Running on a node, the hourly
// sync Job's pod beside it, built from the rendered CronJob; then
// archiver runs as that pod would (its settings as environment, the
// rendered configuration, POD_NAME) against a real MinIO with SSE-KMS, and
// verify proves the archives there. There is no kubelet here: the pods
// are API objects and archiver runs as a subprocess (see the report for
// what moves onto the real node).
func TestDayOneOnTheGuidesDeployment(t *testing.T) {
	s3env := testenv.S3(t)
	k := testenv.Kube(t)
	ctx := context.Background()
	applyRendered(t, k)
	ns := settings(t, "settings.env")["ARCHIVER_NAMESPACE"]
	k.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})

	// The guide's primary with the data volume, Running on node-1.
	dep, _ := guidePrimary(t, true)
	running := func(p *corev1.Pod) {
		t.Helper()
		p.Spec.NodeName = "node-1"
		created, err := k.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			k.Client.CoreV1().Pods(ns).Delete(context.Background(), p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
		})
		created.Status.Phase = corev1.PodRunning
		if _, err := k.Client.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	running(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "security-server-sidecar-primary-dayone", Labels: dep.Spec.Template.Labels}, Spec: dep.Spec.Template.Spec})

	// The sync Job's pod, as the CronJob in deploy/ makes it.
	var cfgYAML string
	var job *corev1.PodTemplateSpec
	for _, o := range render(t, nil) {
		if o.GetKind() == "ConfigMap" && o.GetName() == "archiver" {
			cfgYAML, _, _ = unstructured.NestedString(o.Object, "data", "config.yaml")
		}
		if o.GetKind() == "CronJob" && o.GetName() == "xroad-archiver" {
			m, _, _ := unstructured.NestedMap(o.Object, "spec", "jobTemplate", "spec", "template")
			job = &corev1.PodTemplateSpec{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, job); err != nil {
				t.Fatal(err)
			}
		}
	}
	if job == nil || cfgYAML == "" {
		t.Fatal("no sync CronJob or configuration rendered")
	}
	running(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "xroad-archiver-dayone", Labels: job.Labels}, Spec: job.Spec})

	// What the Sidecar wrote into /var/lib/xroad (the stand-in for its archiving).
	data := filepath.Join(t.TempDir(), "xroad")
	files, err := xroadgen.Generate(xroadgen.Demo(data))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(cfgYAML), 0o644)
	bin := filepath.Join(dir, "archiver")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/archiver").CombinedOutput(); err != nil {
		t.Fatalf("build archiver: %v\n%s", err, out)
	}
	bucket := s3env.Bucket(t, false)
	fake := awsfake.New(t) // CloudWatch
	env := append(os.Environ(), s3env.Environ()...)
	for k, v := range settings(t, "settings.env") {
		env = append(env, k+"="+v)
	}
	env = append(env, "POD_NAME=xroad-archiver-dayone", "POD_NAMESPACE="+ns, "ARCHIVER_SOURCE="+data,
		"ARCHIVER_DEST=s3://"+bucket+"/xroad/ss1", "ARCHIVER_KMS_KEY_ID="+s3env.KMSKey, "AWS_ENDPOINT_URL="+fake.URL(), "AWS_REGION=us-east-1")
	run := func(args ...string) (string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, _ := cmd.Output() // the report alone; logs go to stderr
		if cmd.ProcessState.ExitCode() != 0 {
			return string(out) + stderr.String(), cmd.ProcessState.ExitCode()
		}
		return string(out), 0
	}
	out, code := run("run", "-c", cfg, "--kubeconfig", k.Kubeconfig, "--job", "sync", "-o", "json")
	if code != 0 {
		t.Fatalf("archiver run --job sync beside the guide's primary: exit %d\n%s", code, out)
	}
	var rep struct {
		Status string
		Jobs   []struct {
			Result struct {
				Uploaded struct{ Files int }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("run report: %v\n%s", err, out)
	}
	if rep.Status != "ok" || len(rep.Jobs) != 1 || rep.Jobs[0].Result.Uploaded.Files == 0 {
		t.Fatalf("run report (of %d files): %s", len(files), out)
	}
	out, code = run("verify", "--dest", "s3://"+bucket+"/xroad/ss1")
	if code != 0 || !strings.Contains(out, "verified") {
		t.Fatalf("verify the archives in MinIO: exit %d\n%s", code, out)
	}
}
