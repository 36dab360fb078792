package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NodeEnv is the real single-node cluster scripts/testnode.sh starts: its
// own API server with kube-controller-manager, kube-scheduler, a kubelet
// on containerd, and the real CSI snapshot and provisioning sidecars around
// the test CSI driver (tools/testcsi, registered as ebs.csi.aws.com).
type NodeEnv struct {
	KubeEnv
	Kubectl      string // kubectl of the same version
	Name         string // the node's name
	APIPort      string // the API server's loopback port (KUBERNETES_SERVICE_PORT for hostNetwork pods)
	Containerd   string // containerd's socket (ctr -a)
	CSIRoot      string // the test CSI driver's directory: volumes/ and snapshots/
	StorageClass string // the default class (the test CSI driver, WaitForFirstConsumer)
	State        string // scripts/testnode.sh's state directory (ARCHIVER_TESTENV_STATE)
	// Images imported into containerd (imagePullPolicy: Never).
	ArchiverImage, PrimaryImage string
}

// Node returns the real test node, or skips (fails under
// ARCHIVER_TEST_DISALLOW_SKIP=1) saying why it is missing.
func Node(t testing.TB) NodeEnv {
	t.Helper()
	if why := os.Getenv("ARCHIVER_TEST_NODE_ERROR"); why != "" {
		Skip(t, why)
	}
	if os.Getenv("ARCHIVER_TEST_NODE") != "1" {
		Skip(t, "no test node: run `make testenv` as root and source .testenv/env (make test does both)")
	}
	n := NodeEnv{Kubectl: os.Getenv("ARCHIVER_TEST_NODE_KUBECTL"), Name: os.Getenv("ARCHIVER_TEST_NODE_NAME"),
		APIPort: os.Getenv("ARCHIVER_TEST_NODE_API_PORT"), Containerd: os.Getenv("ARCHIVER_TEST_NODE_CONTAINERD"),
		CSIRoot: os.Getenv("ARCHIVER_TEST_NODE_CSI_ROOT"), StorageClass: os.Getenv("ARCHIVER_TEST_NODE_STORAGE_CLASS"),
		ArchiverImage: os.Getenv("ARCHIVER_TEST_IMAGE_ARCHIVER"), PrimaryImage: os.Getenv("ARCHIVER_TEST_IMAGE_PRIMARY")}
	n.KubeEnv = kubeAdmin(t, os.Getenv("ARCHIVER_TEST_NODE_KUBECONFIG"))
	if n.State = os.Getenv("ARCHIVER_TEST_NODE_STATE"); n.State == "" {
		// A node started before the variable existed: testenv.sh keeps
		// the API server's kubeconfig in the same directory.
		n.State = filepath.Dir(os.Getenv("ARCHIVER_TEST_KUBECONFIG"))
	}
	return n
}

// Run runs kubectl against the node as its admin and returns its
// combined output; a failure fails the test unless allowFail.
func (n NodeEnv) Run(t testing.TB, allowFail bool, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.Kubectl, append([]string{"--kubeconfig", n.Kubeconfig}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil && !allowFail {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), err
}

// RestartKubelet crashes the node's kubelet (SIGKILL; containers keep
// running under containerd), leaves it down for down, starts it again
// with the same arguments and returns once it serves, through
// scripts/testnode.sh restart-kubelet.
func (n NodeEnv) RestartKubelet(t testing.TB, down time.Duration) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join(moduleRoot(t), "scripts", "testnode.sh"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, "restart-kubelet", fmt.Sprint(int(down.Seconds())))
	cmd.Env = append(os.Environ(), "ARCHIVER_TESTENV_STATE="+n.State)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restart kubelet: %v\n%s", err, out)
	}
}

// KillContainer kills a running container of the node with SIGKILL at
// the runtime, behind kubelet's back (what an OOM kill or a crash does).
func (n NodeEnv) KillContainer(t testing.TB, containerID string) {
	t.Helper()
	id := containerID
	if _, after, ok := strings.Cut(id, "://"); ok {
		id = after
	}
	out, err := exec.Command("ctr", "-a", n.Containerd, "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", id).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr tasks kill %s: %v: %s", id, err, out)
	}
}

// Measure logs the wall time of the test under a fixed prefix that README
// numbers are taken from.
func Measure(t testing.TB) {
	t.Helper()
	start := time.Now()
	t.Cleanup(func() { t.Logf("e2e wall time %s: %s", t.Name(), time.Since(start).Round(100*time.Millisecond)) })
}

// String describes the node for logs.
func (n NodeEnv) String() string {
	return fmt.Sprintf("node %s (API port %s, containerd %s)", n.Name, n.APIPort, n.Containerd)
}

// moduleRoot is the directory of the go.mod above the test's working
// directory (tests run in their package's directory).
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}
