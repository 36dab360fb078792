package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
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
