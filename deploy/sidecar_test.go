package deploy

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/xroad-archiver/archiver/internal/doctor"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

// guidePrimary renders the guide's primary, with the sidecar component
// when withData, and returns its Deployment.
func guidePrimary(t *testing.T, withData bool) (*appsv1.Deployment, []string) {
	t.Helper()
	fs := filesys.MakeFsInMemory()
	copyFile := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		fs.WriteFile(dst, b)
	}
	copyFile("testdata/guide-primary.yaml", "/user/load_balancer_setup.yaml")
	for _, f := range []string{"kustomization.yaml", "pvc-data-sidecar.yaml", "primary-data-volume.yaml"} {
		copyFile("sidecar/"+f, "/archiver/deploy/sidecar/"+f)
	}
	k := "resources: [load_balancer_setup.yaml]\n"
	if withData {
		k += "components: [../archiver/deploy/sidecar]\n"
	}
	fs.WriteFile("/user/kustomization.yaml", []byte(k))
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/user")
	if err != nil {
		t.Fatalf("kustomize build with the sidecar component: %v", err)
	}
	var dep *appsv1.Deployment
	var claims []string
	for _, r := range rm.Resources() {
		b, _ := r.MarshalJSON()
		switch r.GetKind() {
		case "Deployment":
			dep = &appsv1.Deployment{}
			if err := json.Unmarshal(b, dep); err != nil {
				t.Fatal(err)
			}
		case "PersistentVolumeClaim":
			claims = append(claims, r.GetName())
		}
	}
	return dep, claims
}

// TestSidecarComponentAddsTheDataVolume: the component mounts
// pvc-data-sidecar at /var/lib/xroad in the guide's primary (and creates
// the claim), and doctor, finding the primary through the API, accepts
// the patched pod and names what is missing in the unpatched one.
func TestSidecarComponentAddsTheDataVolume(t *testing.T) {
	dep, claims := guidePrimary(t, true)
	if strings.Join(claims, ",") != "pvc-config-sidecar,pvc-data-sidecar" && strings.Join(claims, ",") != "pvc-data-sidecar,pvc-config-sidecar" {
		t.Fatalf("claims %v", claims)
	}
	b, _ := json.Marshal(dep.Spec.Template.Spec)
	if !strings.Contains(string(b), `"mountPath":"/var/lib/xroad"`) || !strings.Contains(string(b), `"claimName":"pvc-data-sidecar"`) ||
		!strings.Contains(string(b), `"claimName":"pvc-config-sidecar"`) || dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Fatalf("patched primary %s (strategy %s)", b, dep.Spec.Strategy.Type)
	}
	before, _ := guidePrimary(t, false)

	k := testenv.Kube(t)
	ns := k.Namespace(t)
	ctx := context.Background()
	// No controller-manager runs here to create the default ServiceAccount.
	k.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	for _, c := range []string{"pvc-config-sidecar", "pvc-data-sidecar"} {
		k.BoundClaim(t, ns, c, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: c + "-" + ns},
			Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")},
				PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: snapshot.DriverEBS, VolumeHandle: "vol-0" + strings.Repeat("c", 16)}}}})
	}
	run := func(d *appsv1.Deployment, name string) *doctor.Report {
		t.Helper()
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: d.Spec.Template.Labels}, Spec: d.Spec.Template.Spec}
		p.Spec.NodeName = "node-a"
		created, err := k.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		created.Status.Phase = corev1.PodRunning
		k.Client.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{})
		t.Cleanup(func() { k.Client.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{}) })
		return doctor.Run(ctx, doctor.Options{Kube: k.Client, PVCs: []string{ns + "/pvc-data-sidecar", ns + "/pvc-config-sidecar"},
			PrimarySelector: "run=security-server-sidecar-primary,role=primary", Mounts: map[string]string{ns + "/pvc-data-sidecar": "/var/lib/xroad"}})
	}
	rep := run(before, "primary-as-the-guide-has-it")
	found := false
	for _, c := range rep.Checks {
		if c.Name == "claim "+ns+"/pvc-data-sidecar in the primary" && c.Status == doctor.Fail && strings.Contains(c.Detail, "does not mount pvc-data-sidecar") {
			found = true
		}
	}
	if !found || rep.Status != doctor.Fail {
		t.Fatalf("doctor on the guide's primary without the data volume: %+v", rep)
	}
	k.Client.CoreV1().Pods(ns).Delete(ctx, "primary-as-the-guide-has-it", metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
	for end := 0; end < 100; end++ { // no kubelet: the API server removes it once the grace period is zero
		if _, err := k.Client.CoreV1().Pods(ns).Get(ctx, "primary-as-the-guide-has-it", metav1.GetOptions{}); err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	rep = run(dep, "primary-patched")
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.Name, "claim ") || c.Name == "primary pod" {
			if c.Status != doctor.OK {
				t.Errorf("patched primary: %s %s: %s", c.Name, c.Status, c.Detail)
			}
		}
	}
	if !strings.Contains(mustJSON(rep), "mounted by primary-patched at /var/lib/xroad") || !strings.Contains(mustJSON(rep), "mounted by primary-patched at /etc/xroad") {
		t.Fatalf("doctor on the patched primary: %s", mustJSON(rep))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
