package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

const snapshotterModule = "github.com/kubernetes-csi/external-snapshotter/client/v8"

var crdOnce sync.Once

// SnapshotCRDs installs the VolumeSnapshot, VolumeSnapshotContent and
// VolumeSnapshotClass CRDs, exactly as the external-snapshotter module
// archiver builds against ships them, into the test API server (once per
// test binary; installing again is a no-op).
func (k KubeEnv) SnapshotCRDs(t testing.TB) snapclient.Interface {
	t.Helper()
	var err error
	crdOnce.Do(func() { err = k.installCRDs() })
	if err != nil {
		t.Fatalf("install snapshot CRDs: %v", err)
	}
	return snapclient.NewForConfigOrDie(k.Config)
}

func (k KubeEnv) installCRDs() error {
	// go mod download fetches the version go.mod requires if this machine
	// lacks it, and says where it is.
	out, err := exec.Command("go", "mod", "download", "-json", snapshotterModule).Output()
	if err != nil {
		return fmt.Errorf("download %s: %w", snapshotterModule, err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return fmt.Errorf("download %s: %v %s", snapshotterModule, err, mod.Error)
	}
	dir := filepath.Join(mod.Dir, "config", "crd")
	dyn := dynamic.NewForConfigOrDie(k.Config)
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	ctx := context.Background()
	var names []string
	for _, f := range []string{"volumesnapshotclasses", "volumesnapshotcontents", "volumesnapshots"} {
		objs, err := readObjects(filepath.Join(dir, "snapshot.storage.k8s.io_"+f+".yaml"))
		if err != nil || len(objs) != 1 {
			return fmt.Errorf("CRD %s: %v", f, err)
		}
		obj := objs[0]
		names = append(names, obj.GetName())
		if _, err := crds.Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create CRD %s: %w", obj.GetName(), err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range names {
		for {
			c, err := crds.Get(ctx, n, metav1.GetOptions{})
			if err == nil && established(c) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("CRD %s not established: %v", n, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The API server serves a new CRD's resources a moment after it is
	// established; wait until a list works.
	sc := snapclient.NewForConfigOrDie(k.Config)
	for {
		_, err := sc.SnapshotV1().VolumeSnapshotContents().List(ctx, metav1.ListOptions{Limit: 1})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// SetHold sets Hold while the cluster runs.
func (c *Cluster) SetHold(h bool) {
	c.mu.Lock()
	c.Hold = h
	c.mu.Unlock()
}

func (c *Cluster) held() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Hold
}

// Recorded returns copies of Pods, Claims and Contents, safe to read while
// the cluster runs.
func (c *Cluster) Recorded() (pods []string, claims []corev1.PersistentVolumeClaim, contents []snapv1.VolumeSnapshotContent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.Pods...), append([]corev1.PersistentVolumeClaim(nil), c.Claims...),
		append([]snapv1.VolumeSnapshotContent(nil), c.Contents...)
}

func established(c *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(c.Object, "status", "conditions")
	for _, x := range conds {
		m, _ := x.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// PodRun is what the fake kubelet does with a pod's container: args are
// the container's args with every volume mount path replaced by the local
// directory behind it, env its environment (plus Cluster.Env); it returns
// the exit code. The termination message is read from the file that
// replaced /dev/termination-log.
type PodRun func(ctx context.Context, args, env []string) int

// Cluster plays the controllers and node agents a real cluster has and the
// test API server lacks, for one namespace: the snapshot-controller (marks
// pre-provisioned VolumeSnapshots ready), the CSI provisioner and PV
// controller (binds claims restored from a snapshot to a PV backed by a
// local directory holding that snapshot's data, and static claims to
// their PV), and the kubelet (runs a pod's command through Run against
// those directories and writes the pod's status back). The code under
// test only sees the API server.
type Cluster struct {
	K    KubeEnv
	Snap snapclient.Interface
	NS   string
	// Data maps a snapshot handle (snap-...) to the local directory that
	// holds its data (EFS file systems are on the real node only).
	Data map[string]string
	Run  PodRun
	// Env is added to every container's environment (what an IRSA or Pod
	// Identity webhook would inject: AWS credentials).
	Env []string
	// Unschedulable leaves pods Pending with this PodScheduled message.
	Unschedulable string
	// Hold leaves pods Pending without a reason (a slow node); SetHold
	// changes it once started.
	Hold bool
	// SnapshotError makes VolumeSnapshots fail with this message, as the
	// snapshot-controller reports a snapshot the CSI driver cannot find.
	SnapshotError string
	// Reclaim is the reclaim policy of provisioned volumes (the storage
	// class's; default Delete).
	Reclaim corev1.PersistentVolumeReclaimPolicy

	mu   sync.Mutex
	seen map[string]bool
	Pods []string // pods that ran
	// Claims and Contents are the claims restored from a snapshot and the
	// VolumeSnapshotContents marked ready, as the code under test made them.
	Claims   []corev1.PersistentVolumeClaim
	Contents []snapv1.VolumeSnapshotContent
}

// Start plays the cluster until the test ends. It also creates the
// namespace's default ServiceAccount (the ServiceAccount controller's job).
func (c *Cluster) Start(t testing.TB) {
	c.seen = map[string]bool{}
	_, err := c.K.Client.CoreV1().ServiceAccounts(c.NS).Create(context.Background(),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("default ServiceAccount: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := c.step(ctx, t); err != nil && ctx.Err() == nil {
				t.Logf("fake cluster: %v", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
}

func (c *Cluster) step(ctx context.Context, t testing.TB) error {
	if err := c.snapshots(ctx); err != nil {
		return err
	}
	if err := c.claims(ctx); err != nil {
		return err
	}
	if err := c.protection(ctx); err != nil {
		return err
	}
	return c.pods(ctx, t)
}

// protection plays the pvc-protection and pv-protection controllers:
// a deleted claim goes once no pod uses it, a deleted volume once its
// claim is gone.
func (c *Cluster) protection(ctx context.Context) error {
	core := c.K.Client.CoreV1()
	pods, err := core.Pods(c.NS).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, p := range pods.Items {
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				used[v.PersistentVolumeClaim.ClaimName] = true
			}
		}
	}
	pvcs, err := core.PersistentVolumeClaims(c.NS).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, pvc := range pvcs.Items {
		if pvc.DeletionTimestamp != nil && !used[pvc.Name] && len(pvc.Finalizers) > 0 {
			pvc.Finalizers = nil
			if _, err := core.PersistentVolumeClaims(c.NS).Update(ctx, &pvc, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	pvs, err := core.PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	claims := map[string]bool{}
	for _, pvc := range pvcs.Items {
		claims[pvc.Name] = true
	}
	for _, pv := range pvs.Items {
		// A provisioned volume whose claim is gone is reclaimed (Delete).
		if r := pv.Spec.ClaimRef; r != nil && r.Namespace == c.NS && !claims[r.Name] && pv.DeletionTimestamp == nil &&
			pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete {
			if err := core.PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
		if pv.DeletionTimestamp != nil && len(pv.Finalizers) > 0 {
			pv.Finalizers = nil
			if _, err := core.PersistentVolumes().Update(ctx, &pv, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

func (c *Cluster) snapshots(ctx context.Context) error {
	vss, err := c.Snap.SnapshotV1().VolumeSnapshots(c.NS).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, vs := range vss.Items {
		if vs.Status != nil && vs.Status.ReadyToUse != nil && *vs.Status.ReadyToUse || vs.Spec.Source.VolumeSnapshotContentName == nil {
			continue
		}
		vsc, err := c.Snap.SnapshotV1().VolumeSnapshotContents().Get(ctx, *vs.Spec.Source.VolumeSnapshotContentName, metav1.GetOptions{})
		if err != nil {
			continue // not created yet
		}
		if c.SnapshotError != "" {
			ready, msg, now := false, c.SnapshotError, metav1.Now()
			vs.Status = &snapv1.VolumeSnapshotStatus{ReadyToUse: &ready, Error: &snapv1.VolumeSnapshotError{Message: &msg, Time: &now}}
			if _, err := c.Snap.SnapshotV1().VolumeSnapshots(c.NS).UpdateStatus(ctx, &vs, metav1.UpdateOptions{}); err != nil {
				return err
			}
			continue
		}
		c.mu.Lock()
		c.Contents = append(c.Contents, *vsc.DeepCopy())
		c.mu.Unlock()
		ready, now := true, metav1.Now()
		var size int64 = 1 << 30
		vsc.Status = &snapv1.VolumeSnapshotContentStatus{SnapshotHandle: vsc.Spec.Source.SnapshotHandle, ReadyToUse: &ready, RestoreSize: &size}
		if _, err := c.Snap.SnapshotV1().VolumeSnapshotContents().UpdateStatus(ctx, vsc, metav1.UpdateOptions{}); err != nil {
			return err
		}
		vs.Status = &snapv1.VolumeSnapshotStatus{BoundVolumeSnapshotContentName: &vsc.Name, ReadyToUse: &ready, CreationTime: &now}
		if _, err := c.Snap.SnapshotV1().VolumeSnapshots(c.NS).UpdateStatus(ctx, &vs, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) claims(ctx context.Context) error {
	core := c.K.Client.CoreV1()
	pvcs, err := core.PersistentVolumeClaims(c.NS).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, pvc := range pvcs.Items {
		if pvc.Status.Phase == corev1.ClaimBound || pvc.DeletionTimestamp != nil {
			continue
		}
		pvName := pvc.Spec.VolumeName
		if ds := pvc.Spec.DataSource; ds != nil && ds.Kind == "VolumeSnapshot" {
			vs, err := c.Snap.SnapshotV1().VolumeSnapshots(c.NS).Get(ctx, ds.Name, metav1.GetOptions{})
			if err != nil || vs.Status == nil || vs.Status.ReadyToUse == nil || !*vs.Status.ReadyToUse {
				continue // the provisioner waits for the snapshot
			}
			vsc, err := c.Snap.SnapshotV1().VolumeSnapshotContents().Get(ctx, *vs.Status.BoundVolumeSnapshotContentName, metav1.GetOptions{})
			if err != nil {
				continue
			}
			dir, ok := c.Data[*vsc.Spec.Source.SnapshotHandle]
			if !ok {
				continue // the CSI driver cannot find the snapshot: the claim stays Pending
			}
			c.mu.Lock()
			c.Claims = append(c.Claims, *pvc.DeepCopy())
			c.mu.Unlock()
			pvName = "pvc-" + string(pvc.UID)
			reclaim := c.Reclaim
			if reclaim == "" {
				reclaim = corev1.PersistentVolumeReclaimDelete
			}
			pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: pvName, Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": "ebs.csi.aws.com"}},
				Spec: corev1.PersistentVolumeSpec{Capacity: pvc.Spec.Resources.Requests, AccessModes: pvc.Spec.AccessModes,
					StorageClassName: *pvc.Spec.StorageClassName, PersistentVolumeReclaimPolicy: reclaim,
					PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}},
					ClaimRef:               &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: c.NS, Name: pvc.Name, UID: pvc.UID}}}
			if _, err := core.PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return err
			}
			pvc.Spec.VolumeName = pvName
			up, err := core.PersistentVolumeClaims(c.NS).Update(ctx, &pvc, metav1.UpdateOptions{})
			if err != nil {
				return err
			}
			pvc = *up
		}
		if pvName == "" {
			continue
		}
		if _, err := core.PersistentVolumes().Get(ctx, pvName, metav1.GetOptions{}); err != nil {
			continue
		}
		pvc.Status.Phase, pvc.Status.Capacity, pvc.Status.AccessModes = corev1.ClaimBound, pvc.Spec.Resources.Requests, pvc.Spec.AccessModes
		if _, err := core.PersistentVolumeClaims(c.NS).UpdateStatus(ctx, &pvc, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// volumeDir is the local directory behind a bound claim.
func (c *Cluster) volumeDir(ctx context.Context, claim string) (string, bool) {
	core := c.K.Client.CoreV1()
	pvc, err := core.PersistentVolumeClaims(c.NS).Get(ctx, claim, metav1.GetOptions{})
	if err != nil || pvc.Status.Phase != corev1.ClaimBound {
		return "", false
	}
	pv, err := core.PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", false
	}
	if src := pv.Spec.PersistentVolumeSource; src.HostPath != nil {
		return src.HostPath.Path, true
	}
	return "", false
}

func (c *Cluster) pods(ctx context.Context, t testing.TB) error {
	core := c.K.Client.CoreV1()
	pods, err := core.Pods(c.NS).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, pod := range pods.Items {
		c.mu.Lock()
		seen := c.seen[string(pod.UID)]
		c.mu.Unlock()
		if seen || pod.Status.Phase != corev1.PodPending && pod.Status.Phase != "" || pod.DeletionTimestamp != nil || c.held() {
			continue
		}
		if c.Unschedulable != "" {
			pod.Status.Phase = corev1.PodPending
			pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
				Message: c.Unschedulable, LastTransitionTime: metav1.Now()}}
			if _, err := core.Pods(c.NS).UpdateStatus(ctx, &pod, metav1.UpdateOptions{}); err != nil {
				return err
			}
			c.mu.Lock()
			c.seen[string(pod.UID)] = true
			c.mu.Unlock()
			continue
		}
		// Mount the volumes: claims (once bound) and ConfigMaps.
		tmp := t.TempDir()
		mounts := map[string]string{corev1.TerminationMessagePathDefault: filepath.Join(tmp, "termination-log")}
		ready := true
		for _, v := range pod.Spec.Volumes {
			var dir string
			switch {
			case v.PersistentVolumeClaim != nil:
				var ok bool
				if dir, ok = c.volumeDir(ctx, v.PersistentVolumeClaim.ClaimName); !ok {
					ready = false
				}
			case v.EmptyDir != nil, v.Ephemeral != nil:
				dir = filepath.Join(tmp, "vol-"+v.Name)
				os.MkdirAll(dir, 0o700)
			case v.ConfigMap != nil:
				cm, err := core.ConfigMaps(c.NS).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
				if err != nil {
					ready = false
					break
				}
				dir = filepath.Join(tmp, "cm-"+v.Name)
				os.MkdirAll(dir, 0o700)
				for k, b := range cm.BinaryData {
					os.WriteFile(filepath.Join(dir, k), b, 0o600)
				}
				for k, s := range cm.Data {
					os.WriteFile(filepath.Join(dir, k), []byte(s), 0o600)
				}
			}
			for _, m := range pod.Spec.Containers[0].VolumeMounts {
				if m.Name == v.Name {
					mounts[m.MountPath] = dir
				}
			}
		}
		if !ready {
			continue
		}
		c.mu.Lock()
		c.seen[string(pod.UID)] = true
		c.Pods = append(c.Pods, pod.Name)
		c.mu.Unlock()
		args := make([]string, len(pod.Spec.Containers[0].Args))
		for i, a := range pod.Spec.Containers[0].Args {
			args[i] = a
			for mp, dir := range mounts {
				if a == mp || strings.HasPrefix(a, mp+"/") {
					args[i] = dir + strings.TrimPrefix(a, mp)
				}
			}
		}
		env := append([]string(nil), c.Env...)
		for _, e := range pod.Spec.Containers[0].Env {
			env = append(env, e.Name+"="+e.Value)
		}
		started := metav1.Now()
		code := c.Run(ctx, args, env)
		msg, _ := os.ReadFile(mounts[corev1.TerminationMessagePathDefault])
		pod.Status.Phase = corev1.PodSucceeded
		if code != 0 {
			pod.Status.Phase = corev1.PodFailed
		}
		pod.Status.StartTime = &started
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: pod.Spec.Containers[0].Name, Image: pod.Spec.Containers[0].Image,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: int32(code), Message: string(msg),
				Reason: map[bool]string{true: "Completed", false: "Error"}[code == 0], StartedAt: started, FinishedAt: metav1.Now()}}}}
		if _, err := core.Pods(c.NS).UpdateStatus(ctx, &pod, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	return nil
}
