package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// KubeEnv is the test kube-apiserver (with etcd).
type KubeEnv struct {
	Config     *rest.Config
	Client     kubernetes.Interface
	Kubeconfig string
}

// Kube returns the test kube-apiserver as its admin, or skips.
func Kube(t testing.TB) KubeEnv {
	t.Helper()
	path := os.Getenv("ARCHIVER_TEST_KUBECONFIG")
	if path == "" {
		Skip(t, "no test kube-apiserver: run `make testenv` and source .testenv/env (make test does both)")
	}
	return kubeAdmin(t, path)
}

// kubeAdmin is the client of the admin kubeconfig at path.
func kubeAdmin(t testing.TB, path string) KubeEnv {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	// No client-side rate limit: a test's pollers share this config, and
	// client-go's default 5 requests/s would make each wait on the other.
	cfg.QPS, cfg.Burst = -1, 0
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return KubeEnv{Config: cfg, Client: c, Kubeconfig: path}
}

// Namespace creates a fresh namespace named after the test and deletes it
// at the end.
func (k KubeEnv) Namespace(t testing.TB) string {
	t.Helper()
	var rb [3]byte
	rand.Read(rb[:])
	name := strings.ToLower(t.Name())
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name)
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-") + "-" + hex.EncodeToString(rb[:])
	ctx := context.Background()
	if _, err := k.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		k.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	})
	return name
}

// BoundClaim creates pv and a claim bound to it in ns, playing the part of
// the PV controller (which does not run here): the claim names the volume
// and its status says Bound.
func (k KubeEnv) BoundClaim(t testing.TB, ns, claim string, pv *corev1.PersistentVolume) *corev1.PersistentVolumeClaim {
	t.Helper()
	ctx := context.Background()
	pv.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: ns, Name: claim}
	if len(pv.Spec.AccessModes) == 0 {
		pv.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	created, err := k.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create PV %s: %v", pv.Name, err)
	}
	t.Cleanup(func() {
		k.Client.CoreV1().PersistentVolumes().Delete(context.Background(), created.Name, metav1.DeleteOptions{})
	})
	sc := ""
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: claim, Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: pv.Spec.AccessModes, VolumeName: pv.Name, StorageClassName: &sc,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: pv.Spec.Capacity[corev1.ResourceStorage]}},
		},
	}
	pvc, err = k.Client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create PVC %s/%s: %v", ns, claim, err)
	}
	pvc.Status.Phase = corev1.ClaimBound
	pvc.Status.Capacity = pv.Spec.Capacity
	pvc.Status.AccessModes = pv.Spec.AccessModes
	pvc, err = k.Client.CoreV1().PersistentVolumeClaims(ns).UpdateStatus(ctx, pvc, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("bind PVC %s/%s: %v", ns, claim, err)
	}
	return pvc
}
