package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xroad-archiver/archiver/internal/awsfake"
	"github.com/xroad-archiver/archiver/internal/restoretest"
	"github.com/xroad-archiver/archiver/internal/snapshot"
	"github.com/xroad-archiver/archiver/internal/testenv"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

// startEFSDriver runs a second instance of the test CSI driver registered
// with the node's kubelet as efs.csi.aws.com, with its own root, and the
// CSIDriver object that says it needs no attach; both go when the test
// ends. It returns the root: file system FSID is volumes/FSID under it.
func startEFSDriver(t *testing.T, n testenv.NodeEnv) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "efscsi") // short: the socket path must fit a sockaddr
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "testcsi")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../tools/testcsi").CombinedOutput(); err != nil {
		t.Fatalf("build testcsi: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "root")
	registry := filepath.Join(filepath.Dir(n.CSIRoot), "kubelet", "plugins_registry")
	cmd := exec.Command(bin, "--name", snapshot.DriverEFS, "--root", root, "--endpoint", filepath.Join(dir, "csi.sock"),
		"--registration-dir", registry, "--node-id", n.Name)
	logf, err := os.Create(filepath.Join(t.TempDir(), "testcsi-efs.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		os.Remove(filepath.Join(registry, snapshot.DriverEFS+"-reg.sock"))
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("testcsi (efs) log:\n%s", b)
		}
	})
	ctx := context.Background()
	f := false
	drv := &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: snapshot.DriverEFS}, Spec: storagev1.CSIDriverSpec{AttachRequired: &f, PodInfoOnMount: &f}}
	if _, err := n.Client.StorageV1().CSIDrivers().Create(ctx, drv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Client.StorageV1().CSIDrivers().Delete(context.Background(), snapshot.DriverEFS, metav1.DeleteOptions{})
	})
	eventually(t, time.Minute, func() string {
		cn, err := n.Client.StorageV1().CSINodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		for _, d := range cn.Spec.Drivers {
			if d.Name == snapshot.DriverEFS {
				return ""
			}
		}
		return "kubelet has not registered " + snapshot.DriverEFS
	})
	return root
}

// TestRestoreTestOfAnEFSRecoveryPointOnARealNode: restore-test of an EFS
// volume's AWS Backup recovery point. The AWS fake plays Backup (the
// recovery point, the item-level restore job archiver starts and waits
// for); the file system is a directory of a second test CSI driver
// instance registered with the real kubelet as efs.csi.aws.com, laid out
// the way the restore job leaves it: an older recovery directory with
// other data and the newest holding what the backup captured. The real PV
// controller binds archiver's static PV and claim, kubelet mounts the file
// system into the verifier pod, which picks the restore job's directory;
// the static PV goes through the real pv-protection controller.
func TestRestoreTestOfAnEFSRecoveryPointOnARealNode(t *testing.T) {
	n := testenv.Node(t)
	testenv.Measure(t)
	root := startEFSDriver(t, n)
	freshNamespace(t, n)
	ctx := context.Background()
	const fs = "fs-0eeeeeeeeeeeeeee1"
	data := filepath.Join(t.TempDir(), "xroad")
	if _, err := xroadgen.Generate(xroadgen.Demo(data)); err != nil {
		t.Fatal(err)
	}
	// The source: an EFS volume (path /xroad in the file system), bound
	// statically by the real PV controller.
	pvName := "efsdata-" + fmt.Sprint(time.Now().UnixNano())
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: pvName},
		Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}, StorageClassName: "",
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: "efsdata"},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: snapshot.DriverEFS, VolumeHandle: fs + ":/xroad"}}}}
	if _, err := n.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Client.CoreV1().PersistentVolumes().Delete(context.Background(), pvName, metav1.DeleteOptions{})
	})
	empty := ""
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "efsdata", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}, StorageClassName: &empty, VolumeName: pvName,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")}}}}
	if _, err := n.Client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, func() string {
		c, err := n.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "efsdata", metav1.GetOptions{})
		if err != nil || c.Status.Phase != corev1.ClaimBound {
			return fmt.Sprintf("efsdata not bound: %v", err)
		}
		return ""
	})
	fake := awsfake.New(t)
	env := []string{"AWS_ENDPOINT_URL=" + fake.URL(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=eu-west-1",
		"AWS_EC2_METADATA_DISABLED=true", "ARCHIVER_IMAGE=" + n.ArchiverImage}
	dest := "file://" + t.TempDir()
	efsFlags := []string{"--efs-vault", "Default", "--efs-role-arn", "arn:aws:iam::123456789012:role/backup", "--aws-account-id", awsfake.AccountID}
	r := cli(t, env, append([]string{"snapshot", "--kubeconfig", n.Kubeconfig, "--pvc", ns + "/efsdata", "--mount", ns + "/efsdata=" + data,
		"--dest", dest, "-o", "json", "--poll-interval", "50ms"}, efsFlags...)...)
	if r.code != 0 {
		t.Fatalf("snapshot: exit %d: %s", r.code, r.stderr)
	}
	// The file system as the restore job leaves it: what the item-level
	// restore wrote is the newest recovery directory.
	const oldDir, newDir = "aws-backup-restore_2026-01-01T00-00-00", "aws-backup-restore_2026-11-22T03-00-00"
	fsDir := filepath.Join(root, "volumes", fs)
	old := filepath.Join(fsDir, oldDir, "xroad")
	for _, c := range [][]string{{"mkdir", "-p", old, filepath.Join(fsDir, newDir)}, {"cp", "-a", data + "/.", old + "/"},
		{"cp", "-a", data, filepath.Join(fsDir, newDir, "xroad")}, {"chown", "-R", "999:999", fsDir}, {"chmod", "-R", "u+rwX,g+rX,o+rX", fsDir}} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", c, err, out)
		}
	}
	os.WriteFile(filepath.Join(old, "extra"), []byte("x"), 0o644)
	past, soon := time.Now().Add(-30*24*time.Hour), time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(fsDir, oldDir), past, past)
	os.Chtimes(filepath.Join(fsDir, newDir), soon, soon)

	r = cli(t, env, append([]string{"restore-test", "--kubeconfig", n.Kubeconfig, "--pvc", ns + "/efsdata", "--dest", dest, "--image", n.ArchiverImage,
		"--timeout", "4m", "-o", "json"}, efsFlags...)...)
	var res restoretest.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 || res.Status != "ok" {
		t.Fatalf("exit %d (%v): %s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if res.Check.Dir != newDir+"/xroad" || res.Check.Verified != res.Check.Expected || res.Check.Expected == 0 || res.Backup.Kind != "recovery-point" {
		t.Fatalf("checked %q: %+v", res.Check.Dir, res.Check)
	}
	jobs := fake.RestoreJobs()
	if len(jobs) != 1 || jobs[0].Metadata["ItemsToRestore"] != `["/xroad"]` || jobs[0].Metadata["newFileSystem"] != "false" || jobs[0].Metadata["file-system-id"] != fs {
		t.Fatalf("restore jobs %+v", jobs)
	}
	if res.LeftOnEFS != fs+":/"+newDir {
		t.Fatalf("left on EFS: %q", res.LeftOnEFS)
	}
	t.Logf("EFS drill on the real node: %d files, restore job done after %.1fs, verified in %.1fs, total %.1fs", res.Check.Verified, res.RestoreSec, res.VerifySec, res.TotalSec)
	var static string
	for _, d := range res.Deleted {
		if after, ok := strings.CutPrefix(d, "PersistentVolume/"); ok {
			static = after
		}
	}
	if static == "" {
		t.Fatalf("the static PV was not deleted: %v", res.Deleted)
	}
	e := &snapshotEnv{n: n}
	eventually(t, 2*time.Minute, func() string { return e.leftovers(t, 0) })
	eventually(t, 2*time.Minute, func() string {
		if _, err := n.Client.CoreV1().PersistentVolumes().Get(ctx, static, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Sprintf("static PV %s still there (%v)", static, err)
		}
		return ""
	})
	// Nothing was written into the file system: the recovery directories
	// are as the restore job left them.
	if _, err := os.Stat(filepath.Join(old, "extra")); err != nil {
		t.Fatal(err)
	}

	// A real recovery of the same point: restore --to-pvc leaves a bound
	// claim on a static PV (Retain, writable) of the restore job's
	// directory, verified first.
	list := cli(t, env, append([]string{"snapshot", "list", "--kubeconfig", n.Kubeconfig, "--pvc", ns + "/efsdata", "-o", "json"}, efsFlags...)...)
	var vols []snapshot.VolumeResult
	if err := json.Unmarshal([]byte(list.stdout), &vols); err != nil || len(vols) != 1 || len(vols[0].Artifacts) != 1 {
		t.Fatalf("list: %v %s", err, list.stdout)
	}
	r = cli(t, env, append([]string{"restore", "--kubeconfig", n.Kubeconfig, "--from", dest, "--pvc", ns + "/efsdata", "--recovery-point", vols[0].Artifacts[0].ID,
		"--to-pvc", ns + "/restored", "--image", n.ArchiverImage, "--timeout", "4m", "-o", "json"}, efsFlags...)...)
	res = restoretest.Result{}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 || res.Status != "ok" || res.PVC != ns+"/restored" {
		t.Fatalf("restore: exit %d (%v): %s\n%s", r.code, err, r.stdout, r.stderr)
	}
	claim, err := n.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "restored", metav1.GetOptions{})
	if err != nil || claim.Status.Phase != corev1.ClaimBound {
		t.Fatalf("restored claim: %v %+v", err, claim)
	}
	kept, err := n.Client.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
	if err != nil || kept.Spec.CSI == nil || kept.Spec.CSI.VolumeHandle != fs+":/"+newDir+"/xroad" || kept.Spec.CSI.ReadOnly ||
		kept.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
		t.Fatalf("restored PV: %v %+v", err, kept)
	}
	t.Cleanup(func() {
		n.Client.CoreV1().PersistentVolumes().Delete(context.Background(), kept.Name, metav1.DeleteOptions{})
	})
}
