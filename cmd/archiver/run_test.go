package main

import (
	"bytes"
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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/xroad-archiver/archiver/internal/schedule"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// slowSync is a config whose sync of a 200 MiB file to MinIO takes ~10 s.
func slowSync(t *testing.T, env testenv.S3Env, lockSection string) (cfg, src, bucket string) {
	bucket = env.Bucket(t, false)
	src = filepath.Join(t.TempDir(), "xroad")
	bigFile(t, src, 200<<20)
	cfg = writeConfig(t, fmt.Sprintf(`sync:
  enabled: true
  source: %s
  dest: s3://%s/ss1
  kmsKeyId: %s
  bandwidthLimit: 20MiB
primary:
  confDir: %s
%s`, src, bucket, env.KMSKey, t.TempDir(), lockSection))
	return cfg, src, bucket
}

func start(t *testing.T, env []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

// waitUploading waits until a multipart upload is in progress in bucket.
func waitUploading(t *testing.T, env testenv.S3Env, bucket string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(env.Uploads(t, bucket, "")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no upload started within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTwoArchiversOneRunsTheOtherIsLocked(t *testing.T) {
	env := testenv.S3(t)
	k := testenv.Kube(t)
	ns := k.Namespace(t)
	for _, tc := range []struct{ name, lock string }{
		{"file lock", "lock:\n  file: " + filepath.Join(t.TempDir(), "archiver.lock") + "\n"},
		{"lease", "lock:\n  namespace: " + ns + "\n  name: archiver\n  duration: 30s\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, bucket := slowSync(t, env, tc.lock)
			args := []string{"run", "-c", cfg, "--kubeconfig", k.Kubeconfig, "--log-level", "warn"}
			first, out := start(t, env.Environ(), args...)
			waitUploading(t, env, bucket)
			r := cli(t, env.Environ(), args...)
			if r.code != exitLocked || !strings.Contains(r.stderr, "locked by another archiver") {
				t.Errorf("second archiver: exit %d, %s; want 11 locked", r.code, r.stderr)
			}
			if err := first.Wait(); err != nil {
				t.Fatalf("first archiver: %v\n%s", err, out)
			}
		})
	}
}

func TestSIGTERMMidUploadLeavesNothingBehind(t *testing.T) {
	env := testenv.S3(t)
	cfg, _, bucket := slowSync(t, env, "lock:\n  file: "+filepath.Join(t.TempDir(), "l")+"\n")
	cmd, out := start(t, env.Environ(), "run", "-c", cfg, "--log-level", "warn")
	waitUploading(t, env, bucket)
	time.Sleep(time.Second) // some parts are in
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("archiver did not exit within 10s of SIGTERM (the pod's grace period is 60s)")
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit %d, want %d\n%s", code, exitInterrupted, out)
	}
	if ups := env.Uploads(t, bucket, ""); len(ups) != 0 {
		t.Errorf("%d multipart uploads left behind after SIGTERM", len(ups))
	}
	l, err := env.Client(t).ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Contents) != 0 {
		t.Errorf("objects after SIGTERM: %d (want none: the only file was interrupted)", len(l.Contents))
	}
}

// TestRunReportIsOneJSONDocument: with -o json, stdout holds the run report
// alone, on one line (EMF metrics go to stderr beside the logs), and a run
// refused before any job says why and with which exit code.
func TestRunReportIsOneJSONDocument(t *testing.T) {
	conf := t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf(`sync:
  enabled: true
  source: %s
  dest: file://%s
metrics:
  sink: emf
primary:
  confDir: %s
lock:
  file: %s
`, demoTree(t), t.TempDir(), conf, filepath.Join(t.TempDir(), "lock")))
	r := cli(t, nil, "run", "-c", cfg, "-o", "json")
	var rep schedule.Report
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.Status != "ok" || rep.ExitCode != 0 {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
	if !strings.Contains(r.stderr, `"_aws"`) || !strings.Contains(r.stderr, `"JobSuccess"`) {
		t.Fatalf("no EMF metrics on stderr: %s", r.stderr)
	}
	os.WriteFile(filepath.Join(conf, "local.ini"), []byte("[node]\ntype=secondary\n"), 0o644)
	r = cli(t, nil, "run", "-c", cfg, "-o", "json")
	rep = schedule.Report{}
	if r.code != exitSecondary || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.ExitCode != exitSecondary || !strings.Contains(rep.Error, "secondary") {
		t.Fatalf("secondary: exit %d, stdout %q", r.code, r.stdout)
	}
}
