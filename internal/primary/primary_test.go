package primary

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/testenv"
)

// The guide's primary pod labels (load_balancer_setup.yaml).
var guideLabels = map[string]string{"run": "security-server-sidecar-primary", "role": "primary"}

// pod creates a pod through the API, on node (spec.nodeName, as the
// scheduler would set it), with phase as its status (as kubelet would
// report it); affinity, when set, is the archiver job's pod affinity.
func pod(t *testing.T, k testenv.KubeEnv, ns, name, node string, lbl map[string]string, phase corev1.PodPhase, affinity map[string]string) {
	t.Helper()
	ctx := context.Background()
	// No controller-manager runs here to create the default ServiceAccount.
	k.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbl},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "registry.example/x:1"}}}}
	if affinity != nil {
		p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: affinity}, TopologyKey: HostnameTopology}}}}
	}
	created, err := k.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if phase != "" {
		created.Status.Phase = phase
		if _, err := k.Client.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPrimaryIsDecidedFromTheRealPrimaryPod: archiver runs only beside
// the one Running pod its affinity (or configured selector) selects, and
// refuses, saying why, in every case where it cannot confirm that.
func TestPrimaryIsDecidedFromTheRealPrimaryPod(t *testing.T) {
	k := testenv.Kube(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		setup    func(t *testing.T, ns string)
		selector string
		want     string // "" = confirmed
	}{
		{"the guide's primary on this node", func(t *testing.T, ns string) {
			pod(t, k, ns, "security-server-sidecar-primary-7c8", "node-a", guideLabels, corev1.PodRunning, nil)
			pod(t, k, ns, "security-server-sidecar-secondary-1", "node-a", map[string]string{"run": "security-server-sidecar-secondary", "role": "secondary"}, corev1.PodRunning, nil)
		}, "", ""},
		{"configured selector", func(t *testing.T, ns string) {
			pod(t, k, ns, "ss", "node-a", map[string]string{"app": "ss", "tier": "main"}, corev1.PodRunning, nil)
		}, "app=ss,tier=main", ""},
		{"no primary pod", func(t *testing.T, ns string) {
			pod(t, k, ns, "security-server-sidecar-secondary-1", "node-a", map[string]string{"run": "security-server-sidecar-secondary", "role": "secondary"}, corev1.PodRunning, nil)
		}, "", "no pod in"},
		{"two pods match", func(t *testing.T, ns string) {
			pod(t, k, ns, "p1", "node-a", guideLabels, corev1.PodRunning, nil)
			pod(t, k, ns, "p2", "node-a", guideLabels, corev1.PodRunning, nil)
		}, "", "2 pods in"},
		{"primary not running", func(t *testing.T, ns string) {
			pod(t, k, ns, "p1", "node-a", guideLabels, corev1.PodPending, nil)
		}, "", "is Pending, not Running"},
		{"primary on another node", func(t *testing.T, ns string) {
			pod(t, k, ns, "p1", "node-b", guideLabels, corev1.PodRunning, nil)
		}, "", `runs on node "node-b", this pod on "node-a"`},
		{"a finished old primary does not count", func(t *testing.T, ns string) {
			pod(t, k, ns, "old", "node-b", guideLabels, corev1.PodFailed, nil)
			pod(t, k, ns, "new", "node-a", guideLabels, corev1.PodRunning, nil)
		}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := k.Namespace(t)
			pod(t, k, ns, "archiver-job-x", "node-a", map[string]string{"app.kubernetes.io/name": "archiver"}, corev1.PodRunning, guideLabels)
			tc.setup(t, ns)
			res, err := Check(ctx, Options{Kube: k.Client, Namespace: ns, PodName: "archiver-job-x", Selector: tc.selector})
			if tc.want == "" {
				if err != nil || res.Node != "node-a" || res.Primary == "" {
					t.Fatalf("got %+v, %v; want confirmed", res, err)
				}
				return
			}
			if !errors.Is(err, ErrUnconfirmed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrUnconfirmed with %q", err, tc.want)
			}
		})
	}
	t.Run("no selector anywhere", func(t *testing.T) {
		ns := k.Namespace(t)
		pod(t, k, ns, "archiver-job-x", "node-a", nil, corev1.PodRunning, nil)
		pod(t, k, ns, "p1", "node-a", guideLabels, corev1.PodRunning, nil)
		if _, err := Check(ctx, Options{Kube: k.Client, Namespace: ns, PodName: "archiver-job-x"}); !errors.Is(err, ErrUnconfirmed) || !strings.Contains(err.Error(), "no primary selector") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("this pod unknown", func(t *testing.T) {
		ns := k.Namespace(t)
		for _, o := range []Options{{Kube: k.Client, Namespace: ns, PodName: "gone"}, {Kube: k.Client}} {
			if _, err := Check(ctx, o); !errors.Is(err, ErrUnconfirmed) {
				t.Fatalf("%+v: got %v", o, err)
			}
		}
	})
}
