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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.yaml.in/yaml/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/testenv"
	"github.com/xroad-archiver/archiver/internal/xroad"
)

// ns is the namespace deploy/ ships into (deploy/settings.env: the Sidecar
// guide's example namespace).
const ns = "sidecar"

// primaryLabels are the stand-in primary pod's labels as the Sidecar
// guide's load-balancer example gives them (run=<its Deployment's name>,
// role=primary); deploy/settings.env selects exactly these.
var primaryLabels = map[string]string{"run": "security-server-sidecar-primary", "role": "primary"}

// freshNamespace deletes what an earlier run left in ns (deploy/ names a
// fixed namespace), creates it and deletes it when the test ends, waiting
// until it is gone so the next test starts clean.
func freshNamespace(t *testing.T, n testenv.NodeEnv) {
	t.Helper()
	deleteNamespace(t, n)
	if _, err := n.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteNamespace(t, n) })
}

func deleteNamespace(t *testing.T, n testenv.NodeEnv) {
	ctx := context.Background()
	err := n.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return
	}
	for end := time.Now().Add(2 * time.Minute); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if _, err := n.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return
		}
	}
	t.Errorf("namespace %s still there 2 minutes after its deletion", ns)
}

// startPrimary creates the stand-in X-Road primary: its two claims on the
// node's default storage class (the test CSI driver) and a pod of our
// primary image that writes X-Road-like archives into /var/lib/xroad and
// says in /etc/xroad/conf.d that it is the primary. It returns the pod
// once the archives are written.
func startPrimary(t *testing.T, n testenv.NodeEnv) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	for _, c := range []string{"pvc-data-sidecar", "pvc-config-sidecar"} {
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: c, Namespace: ns},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
		if _, err := n.Client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	uid, f := int64(999), false
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "xroad-primary", Namespace: ns, Labels: primaryLabels},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: &uid, RunAsGroup: &uid, FSGroup: &uid},
			Containers: []corev1.Container{{Name: "xroad", Image: n.PrimaryImage, ImagePullPolicy: corev1.PullNever,
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &f},
				VolumeMounts:    []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/xroad"}, {Name: "conf", MountPath: "/etc/xroad"}}}},
			Volumes: []corev1.Volume{
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "pvc-data-sidecar"}}},
				{Name: "conf", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "pvc-config-sidecar"}}},
			}}}
	if _, err := n.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var p *corev1.Pod
	eventually(t, 3*time.Minute, func() string {
		var err error
		p, err = n.Client.CoreV1().Pods(ns).Get(ctx, "xroad-primary", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Sprintf("primary pod %s: %s", p.Status.Phase, podWhy(p))
		}
		logs, _ := n.Client.CoreV1().Pods(ns).GetLogs("xroad-primary", &corev1.PodLogOptions{}).DoRaw(ctx)
		if !strings.Contains(string(logs), "primary: ready") {
			return "primary not ready: " + string(logs)
		}
		return ""
	})
	return p
}

// podWhy says why a pod is where it is, for failure messages.
func podWhy(p *corev1.Pod) string {
	var b strings.Builder
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			fmt.Fprintf(&b, "%s: %s; ", c.Type, c.Message)
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			fmt.Fprintf(&b, "%s waiting: %s %s; ", cs.Name, w.Reason, w.Message)
		}
		if x := cs.State.Terminated; x != nil {
			fmt.Fprintf(&b, "%s exited %d: %s %s; ", cs.Name, x.ExitCode, x.Reason, x.Message)
		}
	}
	return b.String()
}

// volumeDir is the test CSI driver's directory behind a bound claim.
func volumeDir(t *testing.T, n testenv.NodeEnv, claim string) string {
	t.Helper()
	ctx := context.Background()
	pvc, err := n.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{})
	if err != nil || pvc.Spec.VolumeName == "" {
		t.Fatalf("claim %s: %v (volume %q)", claim, err, pvc.Spec.VolumeName)
	}
	pv, err := n.Client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil || pv.Spec.CSI == nil {
		t.Fatalf("volume of %s: %v", claim, err)
	}
	return filepath.Join(n.CSIRoot, "volumes", pv.Spec.CSI.VolumeHandle)
}

// deployArchiver applies deploy/ as shipped (its CronJobs) through the
// test overlay plus a layer with this run's endpoints: MinIO and its KMS
// key in the shipped configuration, static S3 credentials instead of IRSA,
// and the loopback API server instead of the kubernetes Service.
func deployArchiver(t *testing.T, n testenv.NodeEnv, s3env testenv.S3Env, dest string, extraConfig ...string) {
	t.Helper()
	overlay, err := filepath.Abs("testdata/overlay")
	if err != nil {
		t.Fatal(err)
	}
	applyDeploy(t, n, overlay, "CronJob", "/spec/jobTemplate/spec/template/spec", endpointConfig(t, s3env, dest, extraConfig), nil)
}

// endpointConfig is deploy/configmap.yaml's configuration with this run's
// destination, KMS key and no metrics sink, plus extra keys under sync:.
func endpointConfig(t *testing.T, s3env testenv.S3Env, dest string, extraConfig []string) string {
	t.Helper()
	shipped, err := os.ReadFile("../../../deploy/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(shipped, &cm); err != nil {
		t.Fatal(err)
	}
	conf := cm.Data["config.yaml"]
	for old, repl := range map[string]string{
		"dest: s3://my-xroad-archive/xroad/ss1":                                                 "dest: " + dest,
		"kmsKeyId: arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000": "kmsKeyId: " + s3env.KMSKey,
		"sink: cloudwatch": "sink: none",
	} {
		conf = replaceOnce(t, conf, old, repl)
	}
	for _, x := range extraConfig { // a key under sync:
		conf = strings.Replace(conf, "\nsync:\n", "\nsync:\n  "+x+"\n", 1)
	}
	return conf
}

// replaceOnce replaces old in deploy/configmap.yaml's configuration,
// failing when the shipped file no longer has it.
func replaceOnce(t *testing.T, conf, old, repl string) string {
	t.Helper()
	if !strings.Contains(conf, old) {
		t.Fatalf("deploy/configmap.yaml no longer has %q: update the test's endpoint layer", old)
	}
	return strings.Replace(conf, old, repl, 1)
}

// applyDeploy applies the overlay in dir with a layer above it: conf as
// the archiver ConfigMap's configuration, and in every object of kind the
// run's endpoints as environment variables of the pod spec at spec (a
// JSON pointer), plus extraOps on those objects, plus further kustomize
// patches.
func applyDeploy(t *testing.T, n testenv.NodeEnv, overlay, kind, spec, conf string, extraOps []map[string]any, patches ...map[string]any) {
	t.Helper()
	s3env := testenv.S3(t)
	type envVar struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	}
	ops := extraOps
	for _, e := range []envVar{{"AWS_ENDPOINT_URL_S3", s3env.Endpoint}, {"AWS_ACCESS_KEY_ID", s3env.AccessKey},
		{"AWS_SECRET_ACCESS_KEY", s3env.SecretKey}, {"AWS_REGION", "us-east-1"}, {"AWS_EC2_METADATA_DISABLED", "true"},
		{"KUBERNETES_SERVICE_HOST", "127.0.0.1"}, {"KUBERNETES_SERVICE_PORT", n.APIPort}} {
		ops = append(ops, map[string]any{"op": "add", "path": spec + "/containers/0/env/-", "value": e})
	}
	opsYAML, _ := yaml.Marshal(ops)
	cmYAML, _ := yaml.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "archiver", "namespace": ns}, "data": map[string]string{"config.yaml": conf}})
	dir := t.TempDir()
	rel, err := filepath.Rel(dir, overlay) // kustomize resolves resources relative to the kustomization
	if err != nil {
		t.Fatal(err)
	}
	k, _ := yaml.Marshal(map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
		"resources": []string{rel},
		"patches": append([]map[string]any{
			{"target": map[string]string{"kind": kind}, "patch": string(opsYAML)},
			{"target": map[string]string{"kind": "ConfigMap", "name": "archiver"}, "patch": string(cmYAML)},
		}, patches...),
	})
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), k, 0o644); err != nil {
		t.Fatal(err)
	}
	checkImages(t, n, dir)
	n.Run(t, false, "apply", "-k", dir)
}

// checkImages renders the kustomization in dir and checks that every
// container and the pods' ARCHIVER_IMAGE (the verifier pods' image) name
// the node's imported archiver image: the overlay follows settings.env.
func checkImages(t *testing.T, n testenv.NodeEnv, dir string) {
	t.Helper()
	out, _ := n.Run(t, false, "kustomize", dir)
	dec := yaml.NewDecoder(strings.NewReader(out))
	seen := 0
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			break
		}
		if obj["kind"] == "ConfigMap" {
			if d, ok := obj["data"].(map[string]any); ok {
				if img, ok := d["ARCHIVER_IMAGE"]; ok && img != n.ArchiverImage {
					t.Errorf("ARCHIVER_IMAGE %v in the rendered settings, want %s", img, n.ArchiverImage)
				}
			}
		}
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				if img, ok := x["image"].(string); ok {
					seen++
					if img != n.ArchiverImage {
						t.Errorf("%s %v runs image %s, want %s", obj["kind"], obj["metadata"], img, n.ArchiverImage)
					}
				}
				for _, y := range x {
					walk(y)
				}
			case []any:
				for _, y := range x {
					walk(y)
				}
			}
		}
		walk(obj)
	}
	if seen == 0 {
		t.Fatalf("no container in the rendered overlay %s", dir)
	}
}

// waitJob waits for the first Job the CronJob starts to finish and
// returns it with its pods.
func waitJob(t *testing.T, n testenv.NodeEnv, cronJob string, within time.Duration, done func(*batchv1.Job) bool) (*batchv1.Job, []corev1.Pod) {
	t.Helper()
	ctx := context.Background()
	var job *batchv1.Job
	var pods []corev1.Pod
	eventually(t, within, func() string {
		jobs, err := n.Client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err.Error()
		}
		job = nil
		for i := range jobs.Items {
			j := &jobs.Items[i]
			if len(j.OwnerReferences) == 1 && j.OwnerReferences[0].Name == cronJob && (job == nil || j.CreationTimestamp.Before(&job.CreationTimestamp)) {
				job = j
			}
		}
		if job == nil {
			return "the CronJob " + cronJob + " started no Job"
		}
		pl, err := n.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job.Name})
		if err != nil {
			return err.Error()
		}
		pods = pl.Items
		if !done(job) {
			var why []string
			for _, p := range pods {
				why = append(why, fmt.Sprintf("%s %s %s", p.Name, p.Status.Phase, podWhy(&p)))
			}
			return fmt.Sprintf("Job %s not done (active %d, succeeded %d, failed %d): %v", job.Name, job.Status.Active, job.Status.Succeeded, job.Status.Failed, why)
		}
		return ""
	})
	return job, pods
}

func complete(j *batchv1.Job) bool {
	return condition(j, batchv1.JobComplete) || condition(j, batchv1.JobFailed)
}

func condition(j *batchv1.Job, c batchv1.JobConditionType) bool {
	for _, x := range j.Status.Conditions {
		if x.Type == c && x.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// checkShipped checks the destination against the primary's volume: the
// newest manifest lists every archive and backup on it, each object is
// there with the manifest's size under SSE-KMS with the test key.
func checkShipped(t *testing.T, s3env testenv.S3Env, bucket, prefix, volume string) *manifest.Manifest {
	t.Helper()
	ctx := context.Background()
	cl := s3env.Client(t)
	var keys []string
	var token *string
	for {
		out, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String(prefix + "/" + manifest.Prefix), ContinuationToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		token = out.NextContinuationToken
	}
	if len(keys) == 0 {
		t.Fatalf("no manifest under s3://%s/%s/%s", bucket, prefix, manifest.Prefix)
	}
	sort.Strings(keys)
	obj, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &keys[len(keys)-1]})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	if _, err := manifest.Decode(obj.Body); err != nil {
		t.Fatalf("manifest %s: %v", keys[len(keys)-1], err)
	}
	// A format 2 manifest holds its own run's entries; the whole state is
	// read through the store.
	ds, err := store.NewS3(cl, store.S3Options{Bucket: bucket, Prefix: prefix, KMSKeyID: s3env.KMSKey})
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := manifest.Latest(ctx, ds)
	if err != nil {
		t.Fatalf("state as of %s: %v", keys[len(keys)-1], err)
	}
	listed := map[string]manifest.Entry{}
	for _, e := range manifest.Current(m.Entries) {
		listed[e.Path] = e
	}
	var want []string
	filepath.WalkDir(volume, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(volume, p)
		rel = filepath.ToSlash(rel)
		switch xroad.Classify(rel) {
		case xroad.KindArchive, xroad.KindEncryptedArchive, xroad.KindBackup:
			want = append(want, rel)
		}
		return nil
	})
	if len(want) == 0 {
		t.Fatal("the primary's volume holds no archives")
	}
	for _, rel := range want {
		e, ok := listed[rel]
		if !ok {
			t.Errorf("%s is on the primary's volume but not in the manifest", rel)
			continue
		}
		h, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(prefix + "/" + e.Key)})
		if err != nil {
			t.Errorf("%s: %v", e.Key, err)
			continue
		}
		if h.ServerSideEncryption != "aws:kms" || !strings.HasSuffix(aws.ToString(h.SSEKMSKeyId), s3env.KMSKey) || aws.ToInt64(h.ContentLength) != e.StoredSize {
			t.Errorf("%s: encryption %s key %s size %d, want aws:kms with %s and %d bytes", e.Key, h.ServerSideEncryption,
				aws.ToString(h.SSEKMSKeyId), aws.ToInt64(h.ContentLength), s3env.KMSKey, e.StoredSize)
		}
	}
	t.Logf("manifest %s lists %d files; all %d archives and backups of the primary's volume shipped with SSE-KMS", keys[len(keys)-1], len(listed), len(want))
	return m
}

// eventually calls cond until it has nothing to complain about, failing
// the test with its last complaint after within.
func eventually(t *testing.T, within time.Duration, cond func() string) {
	t.Helper()
	for end := time.Now().Add(within); ; time.Sleep(500 * time.Millisecond) {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(end) {
			t.Fatal(msg)
		}
	}
}

// TestDeployedSyncCronJobShipsThePrimarysArchives: deploy/ as shipped
// (through testdata/overlay) on the real node. The sync CronJob fires on
// its schedule, its Job's pod is scheduled next to the primary by the
// shipped pod affinity, mounts the primary's CSI-provisioned volume and
// ships every archive and backup to MinIO with SSE-KMS; the manifest says
// so.
func TestDeployedSyncCronJobShipsThePrimarysArchives(t *testing.T) {
	n := testenv.Node(t)
	s3env := testenv.S3(t)
	testenv.Measure(t)
	freshNamespace(t, n)
	bucket := s3env.Bucket(t, false)
	primary := startPrimary(t, n)
	deployArchiver(t, n, s3env, "s3://"+bucket+"/ss1")
	start := time.Now()
	job, pods := waitJob(t, n, "xroad-archiver", 4*time.Minute, complete)
	if !condition(job, batchv1.JobComplete) || len(pods) != 1 {
		t.Fatalf("Job %s: %+v, pods %d", job.Name, job.Status, len(pods))
	}
	pod := pods[0]
	t.Logf("Job %s complete %s after the CronJob was applied", job.Name, time.Since(start).Round(time.Second))
	if pod.Spec.NodeName != primary.Spec.NodeName || !pod.Spec.HostNetwork {
		t.Errorf("archiver pod on node %q (hostNetwork %v), primary on %q", pod.Spec.NodeName, pod.Spec.HostNetwork, primary.Spec.NodeName)
	}
	var claims []string
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims = append(claims, v.PersistentVolumeClaim.ClaimName)
		}
	}
	if strings.Join(claims, ",") != "pvc-data-sidecar,pvc-config-sidecar" {
		t.Errorf("archiver pod mounts %v", claims)
	}
	cs := pod.Status.ContainerStatuses
	if len(cs) != 1 || cs[0].State.Terminated == nil || cs[0].State.Terminated.ExitCode != 0 || cs[0].Image != n.ArchiverImage && !strings.HasSuffix(cs[0].Image, n.ArchiverImage) {
		t.Errorf("container status %+v", cs)
	}
	logs, _ := n.Client.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(context.Background())
	if !strings.Contains(string(logs), `"status"`) {
		t.Errorf("the Job's output is not archiver's JSON result:\n%s", logs)
	}
	checkShipped(t, s3env, bucket, "ss1", volumeDir(t, n, "pvc-data-sidecar"))
}
