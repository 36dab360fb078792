package deploy

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/xroad-archiver/archiver/internal/config"
)

// settings reads deploy/settings.env (KEY=value lines).
func settings(t testing.TB, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not KEY=value", path, line)
		}
		out[k] = v
	}
	return out
}

// setEnv exports the settings, as envFrom does in the pods.
func setEnv(t *testing.T, s map[string]string) {
	for k, v := range s {
		t.Setenv(k, v)
	}
}

// render builds the kustomization in deploy/ as `kubectl apply -k` does,
// with settings.env replaced by change (nil: as shipped), on an in-memory
// copy of the directory.
func render(t testing.TB, change map[string]string) []*unstructured.Unstructured {
	t.Helper()
	fs := filesys.MakeFsInMemory()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") && !strings.HasSuffix(e.Name(), ".env") {
			continue
		}
		b, err := os.ReadFile(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "settings.env" && change != nil {
			var lines []string
			for _, l := range strings.Split(string(b), "\n") {
				if k, _, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
					if v, ok := change[k]; ok {
						l = k + "=" + v
					}
				}
				lines = append(lines, l)
			}
			b = []byte(strings.Join(lines, "\n"))
		}
		if err := fs.WriteFile("/deploy/"+e.Name(), b); err != nil {
			t.Fatal(err)
		}
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(fs, "/deploy")
	if err != nil {
		t.Fatalf("kustomize build deploy/: %v", err)
	}
	var out []*unstructured.Unstructured
	for _, r := range rm.Resources() {
		b, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any // JSON types, as the API server's clients use them
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}

// changed is what an operator with their own deployment puts in
// settings.env: none of the values contains "sidecar", which every
// default does, so a leftover default anywhere is found.
var changed = map[string]string{
	"ARCHIVER_NAMESPACE":         "ops-xroad",
	"ARCHIVER_SCRATCH_NAMESPACE": "ops-scratch",
	"ARCHIVER_PRIMARY_RUN":       "my-ss",
	"ARCHIVER_PRIMARY_ROLE":      "main",
	"ARCHIVER_DATA_CLAIM":        "archives",
	"ARCHIVER_CONF_CLAIM":        "etc-xroad",
	"ARCHIVER_IMAGE":             "registry.example/archiver@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	"ARCHIVER_ROLE_ARN":          "arn:aws:iam::444455556666:role/other",
	"AWS_REGION":                 "eu-central-1",
}

// TestChangedSettingsReachEveryObject renders deploy/ with every setting
// changed and checks that no object keeps a default: namespaces, RBAC
// subjects, the admission policy's identity and scratch namespace, the
// pod affinity, claims, images, the role annotation and the
// configuration (parsed with the environment the pods get).
func TestChangedSettingsReachEveryObject(t *testing.T) {
	objs := render(t, changed)
	if len(objs) < 15 {
		t.Fatalf("only %d objects rendered", len(objs))
	}
	settingsName := ""
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && strings.HasPrefix(o.GetName(), "archiver-settings") {
			settingsName = o.GetName()
		}
	}
	if settingsName == "" {
		t.Fatal("no archiver-settings ConfigMap rendered")
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
		b, _ := yaml.Marshal(o.Object)
		if o.GetName() != settingsName && strings.Contains(string(b), "sidecar") {
			t.Errorf("%s %s keeps a default:\n%s", o.GetKind(), o.GetName(), b)
		}
		switch ns := o.GetNamespace(); {
		case o.GetKind() == "Namespace" || strings.HasPrefix(o.GetKind(), "Cluster") || o.GetKind() == "ValidatingAdmissionPolicy" || o.GetKind() == "ValidatingAdmissionPolicyBinding":
			if ns != "" {
				t.Errorf("cluster-scoped %s %s in namespace %q", o.GetKind(), o.GetName(), ns)
			}
		case o.GetName() == "archiver-restore-test" && (o.GetKind() == "Role" || o.GetKind() == "RoleBinding"):
			if ns != "ops-scratch" {
				t.Errorf("%s %s in %q, want the scratch namespace", o.GetKind(), o.GetName(), ns)
			}
		default:
			if ns != "ops-xroad" {
				t.Errorf("%s %s in %q, want ops-xroad", o.GetKind(), o.GetName(), ns)
			}
		}
		if subjects, ok, _ := unstructured.NestedSlice(o.Object, "subjects"); ok {
			for _, s := range subjects {
				if ns := s.(map[string]any)["namespace"]; ns != "ops-xroad" {
					t.Errorf("%s %s binds a subject in %v", o.GetKind(), o.GetName(), ns)
				}
			}
		}
		if a := o.GetAnnotations()["eks.amazonaws.com/role-arn"]; o.GetKind() == "ServiceAccount" && a != changed["ARCHIVER_ROLE_ARN"] {
			t.Errorf("ServiceAccount %s: role %q", o.GetName(), a)
		}
		if o.GetKind() == "ValidatingAdmissionPolicy" {
			b, _ := yaml.Marshal(o.Object)
			if !strings.Contains(string(b), "'system:serviceaccount:ops-xroad:archiver-restore-test'") || !strings.Contains(string(b), `'ops-scratch'`) {
				t.Errorf("admission policy does not follow the namespaces:\n%s", b)
			}
			// Only the scratch variable takes the setting: kustomize's
			// [name=scratch] once also rewrote a variable whose name
			// began with "scratch" (found on the real node: every
			// scratch volume update was denied).
			vars, _, _ := unstructured.NestedSlice(o.Object, "spec", "variables")
			for _, v := range vars {
				m := v.(map[string]any)
				if e, _ := m["expression"].(string); m["name"] != "scratch" && strings.Contains(e, "ops-") {
					t.Errorf("admission policy variable %v took a setting: %s", m["name"], e)
				}
			}
		}
		if o.GetKind() == "Namespace" && o.GetName() != "ops-scratch" {
			t.Errorf("Namespace %s", o.GetName())
		}
		if o.GetKind() == "CronJob" {
			checkPod(t, o, []string{"spec", "jobTemplate", "spec", "template", "spec"}, settingsName)
		}
		if o.GetKind() == "ConfigMap" && o.GetName() == "archiver" {
			setEnv(t, changed)
			data, _, _ := unstructured.NestedString(o.Object, "data", "config.yaml")
			c, err := config.Parse(strings.NewReader(data))
			if err != nil {
				t.Fatalf("config.yaml with the changed settings: %v", err)
			}
			if c.Lock.Namespace != "ops-xroad" || strings.Join(c.Snapshot.PVCs, ",") != "ops-xroad/archives,ops-xroad/etc-xroad" ||
				c.Snapshot.Mounts["ops-xroad/archives"] != "/var/lib/xroad" || c.RestoreTest.Namespace != "ops-scratch" ||
				strings.Join(c.RestoreTest.PVCs, ",") != "ops-xroad/archives,ops-xroad/etc-xroad" || c.Snapshot.Mounts["ops-xroad/etc-xroad"] != "/etc/xroad" || c.Primary.Selector != "run=my-ss,role=main" {
				t.Errorf("configuration does not follow the settings: lock %+v, snapshot %v %v, restoreTest %s %v, primary %+v",
					c.Lock, c.Snapshot.PVCs, c.Snapshot.Mounts, c.RestoreTest.Namespace, c.RestoreTest.PVCs, c.Primary)
			}
		}
	}
	for _, k := range []string{"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "CronJob", "Namespace", "ValidatingAdmissionPolicy"} {
		if kinds[k] == 0 {
			t.Errorf("no %s rendered (restore-test.yaml belongs to the kustomization)", k)
		}
	}
}

// checkPod checks a CronJob's pod: the settings as environment, the
// image, the claims and the pod affinity (on the volume jobs).
func checkPod(t *testing.T, o *unstructured.Unstructured, spec []string, settingsName string) {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(o.Object, append(spec, "containers")...)
	c := containers[0].(map[string]any)
	if c["image"] != changed["ARCHIVER_IMAGE"] {
		t.Errorf("%s: image %v", o.GetName(), c["image"])
	}
	ef, _ := json.Marshal(c["envFrom"])
	if !strings.Contains(string(ef), `"name":"`+settingsName+`"`) {
		t.Errorf("%s: envFrom %s does not name %s", o.GetName(), ef, settingsName)
	}
	pod, _, _ := unstructured.NestedMap(o.Object, spec...)
	if _, ok := pod["securityContext"].(map[string]any)["fsGroup"]; ok {
		t.Errorf("%s: fsGroup makes kubelet rewrite the group of every evidence file", o.GetName())
	}
	vols, _ := json.Marshal(pod["volumes"])
	if strings.Contains(string(vols), "persistentVolumeClaim") &&
		(!strings.Contains(string(vols), `"claimName":"archives"`) || !strings.Contains(string(vols), `"claimName":"etc-xroad"`)) {
		t.Errorf("%s: volumes %s", o.GetName(), vols)
	}
	aff, ok, _ := unstructured.NestedSlice(pod, "affinity", "podAffinity", "requiredDuringSchedulingIgnoredDuringExecution")
	if strings.Contains(string(vols), "persistentVolumeClaim") != ok {
		t.Errorf("%s: a pod with X-Road volumes needs the primary's node (affinity %v, volumes %s)", o.GetName(), ok, vols)
	}
	if ok {
		ml, _, _ := unstructured.NestedStringMap(aff[0].(map[string]any), "labelSelector", "matchLabels")
		if len(ml) != 2 || ml["run"] != "my-ss" || ml["role"] != "main" {
			t.Errorf("%s: affinity selects %v", o.GetName(), ml)
		}
	}
}

// TestDefaultsAreTheSidecarGuides: as shipped, deploy/ fits the guide's
// load-balancer example (namespace sidecar, the primary's labels
// run=security-server-sidecar-primary and role=primary, its claim
// pvc-config-sidecar).
func TestDefaultsAreTheSidecarGuides(t *testing.T) {
	s := settings(t, "settings.env")
	for k, want := range map[string]string{"ARCHIVER_NAMESPACE": "sidecar", "ARCHIVER_PRIMARY_RUN": "security-server-sidecar-primary",
		"ARCHIVER_PRIMARY_ROLE": "primary", "ARCHIVER_CONF_CLAIM": "pvc-config-sidecar"} {
		if s[k] != want {
			t.Errorf("%s=%s, want the guide's %s", k, s[k], want)
		}
	}
	for _, o := range render(t, nil) {
		if o.GetKind() == "CronJob" && strings.HasSuffix(o.GetName(), "-snapshot") {
			b, _ := json.Marshal(o.Object)
			if !strings.Contains(string(b), `"matchLabels":{"role":"primary","run":"security-server-sidecar-primary"}`) {
				t.Errorf("snapshot CronJob does not select the guide's primary: %s", b)
			}
		}
	}
}
