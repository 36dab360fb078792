// Package deploy holds archiver's Kubernetes manifests and IAM policy; its
// tests apply them to a real kube-apiserver (server-side dry run) and
// check, acting as archiver's ServiceAccount, that RBAC allows exactly
// what archiver does.
package deploy

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/lock"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

func TestManifestsPassServerSideDryRun(t *testing.T) {
	k := testenv.Kube(t)
	a := k.Applier(t)
	// The rendered kustomization, as shipped and with every setting
	// changed, plus the serve-mode Deployment (commented out in it).
	for name, change := range map[string]map[string]string{"as shipped": nil, "changed settings": changed} {
		t.Run(name, func(t *testing.T) {
			s := settings(t, "settings.env")
			for k, v := range change {
				s[k] = v
			}
			k.EnsureNamespace(t, s["ARCHIVER_NAMESPACE"])
			k.EnsureNamespace(t, s["ARCHIVER_SCRATCH_NAMESPACE"])
			objs := render(t, change)
			if change == nil {
				objs = append(objs, testenv.Objects(t, "deployment.yaml")...)
			}
			for _, o := range objs {
				if err := a.Apply(context.Background(), o, true); err != nil {
					t.Errorf("%s %s: %v", o.GetKind(), o.GetName(), err)
				}
			}
			if len(objs) < 15 {
				t.Fatalf("only %d objects rendered", len(objs))
			}
		})
	}
}

func TestKustomizationListsTheManifests(t *testing.T) {
	b, _ := os.ReadFile("kustomization.yaml")
	for _, f := range []string{"serviceaccount.yaml", "rbac.yaml", "configmap.yaml", "cronjob.yaml", "restore-test.yaml", "deployment.yaml", "settings.env"} {
		if !strings.Contains(string(b), f) {
			t.Errorf("kustomization.yaml does not mention %s", f)
		}
	}
}

func TestConfigMapHoldsAValidConfiguration(t *testing.T) {
	setEnv(t, settings(t, "settings.env"))
	for _, o := range testenv.Objects(t, "configmap.yaml") {
		data, _, _ := unstructured.NestedString(o.Object, "data", "config.yaml")
		if _, err := config.Parse(strings.NewReader(data)); err != nil {
			t.Fatalf("deploy/configmap.yaml: %v", err)
		}
	}
}

func TestIAMPolicyIsValidJSONAndKeepsMultipartWorking(t *testing.T) {
	b, err := os.ReadFile("iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Statement []struct {
			Sid       string
			Effect    string
			Action    any
			Condition map[string]map[string]any
		}
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Statement {
		// UploadPart carries no encryption header: a condition on it must be
		// ...IfExists, or multipart uploads fail (boto/botocore#471).
		for op := range s.Condition {
			for key := range s.Condition[op] {
				if strings.HasPrefix(key, "s3:x-amz-server-side-encryption") && !strings.HasSuffix(op, "IfExists") {
					t.Errorf("%s: %s on %s breaks multipart uploads; use ...IfExists", s.Sid, op, key)
				}
			}
		}
	}
}

// applyRendered applies deploy/ as `kubectl apply -k deploy/` would, as
// shipped (the guide's namespace sidecar).
func applyRendered(t *testing.T, k testenv.KubeEnv) {
	t.Helper()
	s := settings(t, "settings.env")
	k.EnsureNamespace(t, s["ARCHIVER_NAMESPACE"])
	a := k.Applier(t)
	for _, o := range render(t, nil) {
		if err := a.Apply(context.Background(), o, false); err != nil {
			t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// TestRBACAllowsWhatArchiverDoesAndNothingElse acts as the ServiceAccount.
func TestRBACAllowsWhatArchiverDoesAndNothingElse(t *testing.T) {
	k := testenv.Kube(t)
	ctx := context.Background()
	applyRendered(t, k)
	cfg, _ := k.ServiceAccountConfig(t, "sidecar", "archiver")
	testenv.WaitAllowed(t, cfg, authorizationv1.ResourceAttributes{Namespace: "sidecar", Verb: "create", Group: "coordination.k8s.io", Resource: "leases"})
	as := kubernetes.NewForConfigOrDie(cfg)

	// What archiver does: resolve a claim, hold its lease.
	suffix := time.Now().Format("150405.000000")
	suffix = strings.ReplaceAll(suffix, ".", "")
	k.BoundClaim(t, "sidecar", "data-"+suffix, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "rbac-" + suffix},
		Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: snapshot.DriverEBS, VolumeHandle: "vol-0123456789abcdef0"}}}})
	if _, err := snapshot.Resolve(ctx, as, "sidecar", "data-"+suffix); err != nil {
		t.Errorf("as archiver, resolve a claim: %v", err)
	}
	l, err := lock.AcquireLease(ctx, as, lock.LeaseOptions{Namespace: "sidecar", Name: "archiver-" + suffix, Holder: "test"})
	if err != nil {
		t.Errorf("as archiver, take the lease: %v", err)
	} else if err := l.Release(ctx); err != nil {
		t.Errorf("as archiver, release the lease: %v", err)
	}
	if _, err := as.CoreV1().Events("sidecar").Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{GenerateName: "archiver-"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "sidecar", Name: "x"}, Reason: "Test", Message: "m", Type: "Normal"}, metav1.CreateOptions{}); err != nil {
		t.Errorf("as archiver, record an event: %v", err)
	}
	// The primary guard: find the primary pod through the API.
	if _, err := as.CoreV1().Pods("sidecar").List(ctx, metav1.ListOptions{LabelSelector: "run=security-server-sidecar-primary,role=primary"}); err != nil {
		t.Errorf("as archiver, list the primary pod: %v", err)
	}
	// What it must not do.
	denied := map[string]error{}
	_, denied["read secrets"] = as.CoreV1().Secrets("sidecar").List(ctx, metav1.ListOptions{})
	_, denied["read claims in another namespace"] = as.CoreV1().PersistentVolumeClaims("kube-system").List(ctx, metav1.ListOptions{})
	_, denied["create claims"] = as.CoreV1().PersistentVolumeClaims("sidecar").Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	_, denied["change volumes"] = as.CoreV1().PersistentVolumes().Update(ctx, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "rbac-" + suffix}}, metav1.UpdateOptions{})
	_, denied["create pods in sidecar"] = as.CoreV1().Pods("sidecar").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	_, denied["list pods in another namespace"] = as.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{})
	_, denied["read secrets in the scratch namespace"] = as.CoreV1().Secrets("sidecar-restore-test").List(ctx, metav1.ListOptions{})
	// Creating pods and volumes is the restore test's identity's right only.
	_, denied["create pods in the scratch namespace"] = as.CoreV1().Pods("sidecar-restore-test").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	_, denied["create volumes"] = as.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	_, denied["exec in scratch pods"] = as.CoreV1().RESTClient().Post().Namespace("sidecar-restore-test").Resource("pods").Name("x").SubResource("exec").DoRaw(ctx)
	for what, err := range denied {
		if !apierrors.IsForbidden(err) {
			t.Errorf("as archiver, %s: %v, want Forbidden", what, err)
		}
	}
}

// TestCronJobsSplitSyncFromSnapshots: hourly sync, daily snapshots whose
// retries reuse the Job's name as run id, and no retry of what a retry
// cannot fix (usage, lock held, secondary).
func TestCronJobsSplitSyncFromSnapshots(t *testing.T) {
	jobs, failJob := map[string][]string{}, map[string]string{}
	for _, o := range testenv.Objects(t, "cronjob.yaml") {
		containers, _, _ := unstructured.NestedFieldNoCopy(o.Object, "spec", "jobTemplate", "spec", "template", "spec", "containers")
		args, _, _ := unstructured.NestedStringSlice(containers.([]any)[0].(map[string]any), "args")
		jobs[o.GetName()] = args
		rules, _, _ := unstructured.NestedFieldNoCopy(o.Object, "spec", "jobTemplate", "spec", "podFailurePolicy", "rules")
		b, _ := json.Marshal(rules)
		failJob[o.GetName()] = string(b)
		if v := string(b); !strings.Contains(v, "FailJob") || !strings.Contains(v, "2,") || !strings.Contains(v, "11,12,13]") {
			t.Errorf("%s: podFailurePolicy %s", o.GetName(), b)
		}
		// The evidence files already belong to xroad (999): an fsGroup
		// would make kubelet rewrite the group and mode of every one.
		if sc, _, _ := unstructured.NestedFieldNoCopy(o.Object, "spec", "jobTemplate", "spec", "template", "spec", "securityContext"); sc.(map[string]any)["fsGroup"] != nil || sc.(map[string]any)["fsGroupChangePolicy"] != nil {
			t.Errorf("%s: securityContext %v sets an fsGroup", o.GetName(), sc)
		}
	}
	// A partial sync is not retried at once (each retry would count as
	// another partial run for the alarm); the next hourly run retries it.
	if a := strings.Join(jobs["xroad-archiver"], " "); !strings.Contains(a, "--job sync") || strings.Contains(a, "snapshot") || !strings.Contains(failJob["xroad-archiver"], "3,") {
		t.Errorf("hourly job runs %q", a)
	}
	if a := strings.Join(jobs["xroad-archiver-snapshot"], " "); !strings.Contains(a, "--job snapshot") || !strings.Contains(a, "--run-id $(JOB_NAME)-$(JOB_UID)") {
		t.Errorf("daily job runs %q", a)
	}
	if a := strings.Join(jobs["xroad-archiver-verify"], " "); !strings.Contains(a, "--job verify") {
		t.Errorf("verify job runs %q", a)
	}
}

// TestRestoreTestIdentityTouchesOnlyScratchVolumes: RBAC lets the restore
// test identity create and delete PersistentVolumes cluster-wide; the
// ValidatingAdmissionPolicy in restore-test.yaml narrows that to
// archiver's own read-only EFS volumes for scratch claims.
func TestRestoreTestIdentityTouchesOnlyScratchVolumes(t *testing.T) {
	k := testenv.Kube(t)
	ctx := context.Background()
	applyRendered(t, k)
	cfg, _ := k.ServiceAccountConfig(t, "sidecar", "archiver-restore-test")
	testenv.WaitAllowed(t, cfg, authorizationv1.ResourceAttributes{Verb: "create", Resource: "persistentvolumes"})
	as := kubernetes.NewForConfigOrDie(cfg)
	suffix := strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	pv := func(name string, labelled bool, src corev1.PersistentVolumeSource, claimNS string) *corev1.PersistentVolume {
		p := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name + "-" + suffix},
			Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}, PersistentVolumeSource: src,
				ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: claimNS, Name: "c"}}}
		if labelled {
			p.Labels = map[string]string{"app.kubernetes.io/managed-by": "archiver"}
		}
		return p
	}
	efs := func(ro bool) corev1.PersistentVolumeSource {
		return corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: snapshot.DriverEFS, VolumeHandle: "fs-0123:/aws-backup-restore_x", ReadOnly: ro}}
	}
	hostRoot := corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}
	pvs := as.CoreV1().PersistentVolumes()

	// The policy takes effect a moment after it is created: wait with
	// server-side dry runs (admission runs, nothing is stored), then try
	// for real.
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if _, err := pvs.Create(ctx, pv("host", true, hostRoot, "sidecar-restore-test"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			break
		}
	}
	_, err := pvs.Create(ctx, pv("host", true, hostRoot, "sidecar-restore-test"), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "read-only EFS CSI volume") {
		t.Fatalf("a hostPath volume of / as the restore-test identity: %v", err)
	}
	for what, p := range map[string]*corev1.PersistentVolume{
		"an unlabelled volume":               pv("unlabelled", false, efs(true), "sidecar-restore-test"),
		"a writable EFS volume":              pv("writable", true, efs(false), "sidecar-restore-test"),
		"a volume for a claim in production": pv("prod", true, efs(true), "sidecar"),
	} {
		if _, err := pvs.Create(ctx, p, metav1.CreateOptions{}); err == nil {
			t.Errorf("%s was created", what)
			k.Client.CoreV1().PersistentVolumes().Delete(ctx, p.Name, metav1.DeleteOptions{})
		}
	}
	// What a drill does: its own static EFS volume, created and deleted.
	if _, err := pvs.Create(ctx, pv("drill", true, efs(true), "sidecar-restore-test"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("the drill's own volume: %v", err)
	}
	if err := pvs.Delete(ctx, "drill-"+suffix, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the drill's own volume: %v", err)
	}
	// A production volume (made by the admin) cannot be deleted or patched.
	prod, err := k.Client.CoreV1().PersistentVolumes().Create(ctx, pv("production", false, efs(false), "sidecar"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Client.CoreV1().PersistentVolumes().Delete(ctx, prod.Name, metav1.DeleteOptions{}) })
	if err := pvs.Delete(ctx, prod.Name, metav1.DeleteOptions{}); err == nil {
		t.Error("the restore-test identity deleted a production volume")
	}
	if _, err := pvs.Patch(ctx, prod.Name, types.MergePatchType, []byte(`{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}`), metav1.PatchOptions{}); err == nil {
		t.Error("the restore-test identity changed a production volume's reclaim policy")
	}
	// Labelling it archiver's in the same patch does not make it archiver's.
	relabel := []byte(`{"metadata":{"labels":{"app.kubernetes.io/managed-by":"archiver"}},"spec":{"persistentVolumeReclaimPolicy":"Delete"}}`)
	if _, err := pvs.Patch(ctx, prod.Name, types.MergePatchType, relabel, metav1.PatchOptions{}); err == nil {
		t.Error("the restore-test identity relabelled a production volume as archiver's")
	}
	if err := pvs.Delete(ctx, prod.Name, metav1.DeleteOptions{}); err == nil {
		t.Error("the restore-test identity deleted a production volume after trying to relabel it")
	}
	// Its own volume's labels and claim cannot be changed either (a way
	// to hand a scratch volume to a production claim).
	own, err := pvs.Create(ctx, pv("own", true, efs(true), "sidecar-restore-test"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Client.CoreV1().PersistentVolumes().Delete(ctx, own.Name, metav1.DeleteOptions{}) })
	if _, err := pvs.Patch(ctx, own.Name, types.MergePatchType, []byte(`{"spec":{"claimRef":{"namespace":"sidecar","name":"data"}}}`), metav1.PatchOptions{}); err == nil {
		t.Error("the restore-test identity re-pointed its volume at a production claim")
	}
}
