package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/primary"
	"github.com/xroad-archiver/archiver/internal/schedule"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

// guidePod creates, through the API, a pod on node with phase as kubelet
// would report it; affinity is the archiver Job's pod affinity.
func guidePod(t *testing.T, k testenv.KubeEnv, ns, name, node string, labels map[string]string, phase corev1.PodPhase, affinity map[string]string) {
	t.Helper()
	ctx := context.Background()
	// No controller-manager runs here to create the default ServiceAccount.
	k.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "registry.example/x:1"}}}}
	if affinity != nil {
		p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: affinity}, TopologyKey: primary.HostnameTopology}}}}
	}
	created, err := k.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.Phase = phase
	if _, err := k.Client.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestRunRefusesUnlessBesideThePrimary: `archiver run` in a pod asks the
// API for the pod its affinity selects (the guide's run/role labels): on
// another node it refuses with exit 13, reports the jobs failed and
// ships nothing; beside it, it runs.
func TestRunRefusesUnlessBesideThePrimary(t *testing.T) {
	k := testenv.Kube(t)
	ns := k.Namespace(t)
	labels := map[string]string{"run": "security-server-sidecar-primary", "role": "primary"}
	guidePod(t, k, ns, "archiver-a", "node-a", nil, corev1.PodRunning, labels)
	guidePod(t, k, ns, "archiver-b", "node-b", nil, corev1.PodRunning, labels)
	guidePod(t, k, ns, "security-server-sidecar-primary-5d9", "node-b", labels, corev1.PodRunning, nil)
	src, dest := demoTree(t), t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf("sync: {enabled: true, source: %s, dest: 'file://%s'}\nlock: {file: %s}\nprimary: {confDir: %s}\n",
		src, dest, filepath.Join(t.TempDir(), "lock"), t.TempDir()))

	r := cli(t, []string{"POD_NAME=archiver-a", "POD_NAMESPACE=" + ns}, "run", "-c", cfg, "--kubeconfig", k.Kubeconfig, "-o", "json")
	var rep schedule.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != exitNoPrimary || rep.ExitCode != exitNoPrimary ||
		len(rep.Jobs) != 1 || rep.Jobs[0].Status != "failed" || !strings.Contains(rep.Error, `runs on node "node-b", this pod on "node-a"`) {
		t.Fatalf("on another node: exit %d (%v)\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if files, _ := filepath.Glob(filepath.Join(dest, "*")); len(files) != 0 {
		t.Fatalf("a refused run wrote %v", files)
	}
	r = cli(t, []string{"POD_NAME=archiver-b", "POD_NAMESPACE=" + ns}, "run", "-c", cfg, "--kubeconfig", k.Kubeconfig, "-o", "json")
	if r.code != 0 {
		t.Fatalf("beside the primary: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
