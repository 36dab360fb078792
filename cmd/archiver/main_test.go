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
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/xroad-archiver/archiver/internal/doctor"
	"github.com/xroad-archiver/archiver/internal/s3sync"
	"github.com/xroad-archiver/archiver/internal/testenv"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "archiver-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "archiver")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type cliResult struct {
	code           int
	stdout, stderr string
	maxRSSKiB      int64
}

// cli runs the archiver binary. maxRSSKiB is the child's own high-water
// RSS (VmHWM from /proc, polled while it runs): the rusage of a child
// started with vfork also counts the parent's memory, here the test binary.
func cli(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatalf("run archiver: %v", err)
	}
	var hwm atomic.Int64
	done := make(chan struct{})
	go func() {
		status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		for {
			if b, err := os.ReadFile(status); err == nil {
				for _, line := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
						var kib int64
						fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kib)
						if kib > hwm.Load() {
							hwm.Store(kib)
						}
					}
				}
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	cmd.Wait()
	close(done)
	return cliResult{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode(), maxRSSKiB: hwm.Load()}
}

func demoTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "xroad")
	if _, err := xroadgen.Generate(xroadgen.Demo(dir)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestUsageErrorsExit2AndChangeNothing(t *testing.T) {
	src := demoTree(t)
	dest := filepath.Join(t.TempDir(), "dest")
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no dest", []string{"sync", "--source", src}, "--dest is required"},
		{"bad scheme", []string{"sync", "--source", src, "--dest", "ftp://x/y"}, "want s3://"},
		{"relative file", []string{"sync", "--source", src, "--dest", "file://rel/dir"}, "file:///absolute"},
		{"s3 without key", []string{"sync", "--source", src, "--dest", "s3://bucket/p"}, "--kms-key-id is required"},
		{"bad compress", []string{"sync", "--source", src, "--dest", "file://" + dest, "--compress", "lz4"}, "compression"},
		{"bad duration", []string{"sync", "--source", src, "--dest", "file://" + dest, "--prune-local", "soon"}, "--prune-local"},
		{"bad size", []string{"sync", "--source", src, "--dest", "file://" + dest, "--part-size", "big"}, "--part-size"},
		{"bad lock mode", []string{"sync", "--source", src, "--dest", "s3://b/p", "--kms-key-id", "k", "--object-lock-mode", "FOREVER", "--object-lock-retention", "1d"}, "GOVERNANCE"},
		{"lock without retention", []string{"sync", "--source", src, "--dest", "s3://b/p", "--kms-key-id", "k", "--object-lock-mode", "GOVERNANCE"}, "go together"},
		{"bad output", []string{"sync", "--source", src, "--dest", "file://" + dest, "-o", "yaml"}, "--output"},
		{"bad log level", []string{"sync", "--source", src, "--dest", "file://" + dest, "--log-level", "loud"}, `"loud": want debug, info, warn or error`},
		{"bad log format", []string{"sync", "--source", src, "--dest", "file://" + dest, "--log-format", "yaml"}, `--log-format`},
		{"unknown flag", []string{"sync", "--frobnicate"}, "unknown flag"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, nil, tc.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, tc.msg)
			}
			if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("error is not one line: %q", r.stderr)
			}
		})
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("a usage error created the destination: %v", err)
	}
}

func TestSourceErrorsExit1(t *testing.T) {
	r := cli(t, nil, "sync", "--source", "/nonexistent/xroad", "--dest", "file://"+t.TempDir())
	if r.code != exitError || !strings.Contains(r.stderr, "source") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestSyncJSONAndEnvironment(t *testing.T) {
	src := demoTree(t)
	dest := t.TempDir()
	r := cli(t, []string{"ARCHIVER_SOURCE=" + src, "ARCHIVER_DEST=file://" + dest}, "sync", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var res s3sync.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("stdout is not one JSON result: %v\n%s", err, r.stdout)
	}
	if res.Status != "ok" || res.Uploaded.Files != 15 || res.Source != src {
		t.Fatalf("result %+v", res)
	}
	// Logs are JSON lines on stderr.
	for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["msg"] == nil {
			t.Fatalf("stderr line is not a JSON log record: %q", line)
		}
	}
	// A flag beats its environment variable.
	other := t.TempDir()
	r = cli(t, []string{"ARCHIVER_SOURCE=" + src, "ARCHIVER_DEST=file://" + dest}, "sync", "-o", "json", "--dest", "file://"+other)
	json.Unmarshal([]byte(r.stdout), &res)
	if r.code != 0 || res.Destination != "file://"+other || res.Uploaded.Files != 15 {
		t.Fatalf("flag did not override $ARCHIVER_DEST: exit %d, %+v", r.code, res)
	}
}

func TestSyncS3ErrorsAreOneLineExit1(t *testing.T) {
	env := testenv.S3(t)
	bucket := env.Bucket(t, false)
	src := demoTree(t)
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"unknown key", []string{"--dest", "s3://" + bucket + "/x", "--kms-key-id", "no-such-key"}, "KMS key not usable: the configured key …-key"},
		{"missing bucket", []string{"--dest", "s3://archiver-no-such-bucket/x", "--kms-key-id", env.KMSKey}, "bucket does not exist"},
		{"access denied", []string{"--dest", "s3://" + bucket + "/x", "--kms-key-id", env.KMSKey}, "access denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			environ := env.Environ()
			if tc.name == "access denied" {
				environ = append(environ, "AWS_SECRET_ACCESS_KEY=wrong")
			}
			r := cli(t, environ, append([]string{"sync", "--source", src, "--prune-local", "1s"}, tc.args...)...)
			if r.code != exitError || !strings.Contains(r.stderr, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, tc.msg)
			}
			if n, _ := os.ReadDir(src); len(n) != 17 {
				t.Fatalf("local files changed: %d entries", len(n))
			}
		})
	}
}

// bigFile makes a sparse file of size bytes named like an archive.
func bigFile(t *testing.T, dir string, size int64) string {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	name := "mlog-20261120000000-20261120235959-0123456789abcdef.zip"
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	// Some non-zero bytes so parts differ.
	for off := int64(0); off < size; off += 64 << 20 {
		f.WriteAt([]byte(time.Now().String()), off)
	}
	f.Close()
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(dir, name), old, old)
	return name
}

func TestMultiGiBFileWithBoundedMemory(t *testing.T) {
	env := testenv.S3(t)
	bucket := env.Bucket(t, false)
	src := filepath.Join(t.TempDir(), "xroad")
	const size = 3 << 30
	name := bigFile(t, src, size)
	r := cli(t, env.Environ(), "sync", "--source", src, "--dest", "s3://"+bucket+"/ss1", "--kms-key-id", env.KMSKey, "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var res s3sync.Result
	json.Unmarshal([]byte(r.stdout), &res)
	if res.Uploaded.Bytes != size {
		t.Fatalf("uploaded %d bytes, want %d", res.Uploaded.Bytes, size)
	}
	t.Logf("3 GiB file: peak RSS %d MiB", r.maxRSSKiB/1024)
	if r.maxRSSKiB > 128*1024 {
		t.Errorf("peak RSS %d MiB for a 3 GiB file, want under 128 MiB", r.maxRSSKiB/1024)
	}
	h, err := env.Client(t).HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("ss1/" + name)})
	if err != nil || aws.ToInt64(h.ContentLength) != size || h.ServerSideEncryption != "aws:kms" {
		t.Fatalf("object: %+v, %v", h, err)
	}
	env.Client(t).DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: &bucket, Key: aws.String("ss1/" + name)})
}

func TestKilledMidUploadResumes(t *testing.T) {
	env := testenv.S3(t)
	bucket := env.Bucket(t, false)
	src := filepath.Join(t.TempDir(), "xroad")
	name := bigFile(t, src, 400<<20)
	args := []string{"sync", "--source", src, "--dest", "s3://" + bucket + "/ss1", "--kms-key-id", env.KMSKey, "-o", "json",
		"--part-size", "8MiB", "--concurrency", "2"}
	cmd := exec.Command(binary, append(args, "--bandwidth-limit", "40MiB")...)
	cmd.Env = append(os.Environ(), env.Environ()...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := env.Client(t)
	key := "ss1/" + name
	deadline := time.Now().Add(60 * time.Second)
	for {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no parts uploaded within 60s")
		}
		ups := env.Uploads(t, bucket, key)
		if len(ups) == 1 {
			lp, err := c.ListParts(context.Background(), &s3.ListPartsInput{Bucket: &bucket, Key: &key, UploadId: ups[0].UploadId})
			if err == nil && len(lp.Parts) >= 5 {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: &key}); err == nil {
		t.Fatal("object complete before the kill; the test did not interrupt anything")
	}
	r := cli(t, env.Environ(), args...)
	if r.code != 0 {
		t.Fatalf("rerun exit %d: %s", r.code, r.stderr)
	}
	var res s3sync.Result
	json.Unmarshal([]byte(r.stdout), &res)
	if res.Resumed.Files != 1 || res.Uploaded.Files != 1 {
		t.Fatalf("rerun: uploaded %d, resumed %d; want the interrupted upload resumed", res.Uploaded.Files, res.Resumed.Files)
	}
	if ups := env.Uploads(t, bucket, "ss1/"); len(ups) != 0 {
		t.Fatalf("%d multipart uploads dangling after a successful run", len(ups))
	}
}

func TestVerifyAndRestoreExitCodes(t *testing.T) {
	src := demoTree(t)
	dest := t.TempDir()
	if r := cli(t, nil, "sync", "--source", src, "--dest", "file://"+dest); r.code != 0 {
		t.Fatalf("sync: %d %s", r.code, r.stderr)
	}
	if r := cli(t, nil, "verify", "--dest", "file://"+dest, "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, `"status":"verified"`) {
		t.Fatalf("verify clean: exit %d\n%s", r.code, r.stdout)
	}
	to := filepath.Join(t.TempDir(), "restored")
	if r := cli(t, nil, "restore", "--from", "file://"+dest, "--to", to); r.code != 0 {
		t.Fatalf("restore: exit %d %s", r.code, r.stderr)
	}
	// An existing, different file: partial (3), left alone.
	victim := filepath.Join(to, "backup", "conf_backup_20261121-031500.gpg")
	os.WriteFile(victim, []byte("mine"), 0o640)
	if r := cli(t, nil, "restore", "--from", "file://"+dest, "--to", to); r.code != exitPartial || !strings.Contains(r.stdout, "EXISTS") {
		t.Fatalf("restore over an existing file: exit %d\n%s", r.code, r.stdout)
	}
	// Corrupt one object: verify fails with 4 and names it.
	entries, _ := os.ReadDir(dest)
	var archive string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".zip") {
			archive = e.Name()
			break
		}
	}
	b, _ := os.ReadFile(filepath.Join(dest, archive))
	b[100] ^= 1
	os.WriteFile(filepath.Join(dest, archive), b, 0o640)
	r := cli(t, nil, "verify", "--dest", "file://"+dest)
	if r.code != exitVerifyFail || !strings.Contains(r.stdout, archive) || !strings.Contains(r.stdout, "content") {
		t.Fatalf("verify corrupt: exit %d\n%s", r.code, r.stdout)
	}
	// Usage errors.
	for _, args := range [][]string{{"verify"}, {"verify", "--dest", "file://" + dest, "--sample", "0"}, {"restore", "--from", "file://" + dest},
		{"restore", "--from", "file://" + dest, "--to", to, "--since", "yesterday-ish"},
		{"restore", "--from", "file://" + dest, "--to", to, "--since", "2026-11-21", "--until", "2026-11-20"}} {
		if r := cli(t, nil, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want 2 (%s)", args, r.code, r.stderr)
		}
	}
	// A selection that matches nothing is an error, not an empty success.
	if r := cli(t, nil, "restore", "--from", "file://"+dest, "--to", filepath.Join(t.TempDir(), "new"), "--include", "mlog-EE_NOSUCH*"); r.code != exitError ||
		!strings.Contains(r.stderr, "nothing matches") {
		t.Errorf("empty selection: exit %d %s", r.code, r.stderr)
	}
	// A destination that does not exist is named as such.
	if r := cli(t, nil, "verify", "--dest", "file://"+filepath.Join(t.TempDir(), "typo")); r.code != exitError || !strings.Contains(r.stderr, "no such file or directory") {
		t.Errorf("verify missing dir: exit %d %s", r.code, r.stderr)
	}
	// Nothing archived there: exit 1.
	if r := cli(t, nil, "verify", "--dest", "file://"+t.TempDir()); r.code != exitError || !strings.Contains(r.stderr, "no manifest") {
		t.Errorf("verify empty: exit %d %s", r.code, r.stderr)
	}
}

// TestDoctorThroughTheCLI: a local destination that exists is fine (with
// the probe, which reads back what it wrote); one that does not exist fails
// with exit 1 and is named, not created.
func TestDoctorThroughTheCLI(t *testing.T) {
	dest := t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf("sync: {enabled: true, source: /var/lib/xroad, dest: \"file://%s\"}\n", dest))
	r := cli(t, nil, "doctor", "-c", cfg, "--probe", "-o", "json")
	var rep doctor.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || rep.Status != doctor.OK || len(rep.Checks) != 2 {
		t.Fatalf("exit %d (%v): %s %s", r.code, err, r.stdout, r.stderr)
	}
	missing := filepath.Join(t.TempDir(), "typo")
	cfg = writeConfig(t, fmt.Sprintf("sync: {enabled: true, source: /var/lib/xroad, dest: \"file://%s\"}\n", missing))
	r = cli(t, nil, "doctor", "-c", cfg, "--probe") // even with --probe
	if r.code != exitError || !strings.Contains(r.stdout, "FAIL") || !strings.Contains(r.stdout, "typo") {
		t.Fatalf("missing destination: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatal("doctor created the destination")
	}
	if r := cli(t, nil, "doctor", "-c", writeConfig(t, "sync: {enabled: true, sorce: x}\n")); r.code != exitUsage {
		t.Fatalf("bad config: exit %d", r.code)
	}
}
