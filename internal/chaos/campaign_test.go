//go:build chaos

package chaos

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/testenv"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

var binary string

func TestMain(m *testing.M) {
	dir, _ := os.MkdirTemp("", "archiver-chaos-")
	binary = filepath.Join(dir, "archiver")
	if out, err := exec.Command("go", "build", "-o", binary, "../../cmd/archiver").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// minio is a MinIO of the campaign's own, so it can be restarted.
type minio struct {
	bin, dir, addr, user, pass string
	cmd                        *exec.Cmd
}

const kmsKey = "chaos-key"

func startMinIO(t *testing.T) *minio {
	env := testenv.S3(t) // for the binary path; the campaign runs its own server
	if env.MinIOBin == "" {
		testenv.Skip(t, "ARCHIVER_TEST_MINIO_BIN not set")
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	m := &minio{bin: env.MinIOBin, dir: t.TempDir(), addr: addr, user: "chaos", pass: "chaos-secret-123"}
	m.start(t)
	t.Cleanup(func() { m.stop() })
	c := m.client(t)
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("chaos")}); err != nil {
		t.Fatal(err)
	}
	return m
}

var keyMaterial = func() string { b := make([]byte, 32); rand.Read(b); return base64.StdEncoding.EncodeToString(b) }()

func (m *minio) start(t *testing.T) {
	m.cmd = exec.Command(m.bin, "server", m.dir, "--address", m.addr, "--console-address", "127.0.0.1:0")
	m.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+m.user, "MINIO_ROOT_PASSWORD="+m.pass, "MINIO_KMS_SECRET_KEY="+kmsKey+":"+keyMaterial, "MINIO_BROWSER=off")
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", m.addr)
		if err == nil {
			c.Close()
			time.Sleep(300 * time.Millisecond)
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("MinIO did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (m *minio) stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		m.cmd.Process.Kill()
		m.cmd.Wait()
	}
}

func (m *minio) url() string { return "http://" + m.addr }

func (m *minio) client(t *testing.T) *s3.Client {
	c, err := store.NewS3Client(context.Background(), store.ClientOptions{EndpointURL: m.url(), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(m.user, m.pass, "")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (m *minio) environ() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + m.user, "AWS_SECRET_ACCESS_KEY=" + m.pass, "AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true"}
}

// source is the archive directory the campaign feeds, with the SHA-256
// of every file it ever created there.
type source struct {
	dir   string
	pool  []string // generated small archives not yet released
	pdir  string
	files map[string]string // rel -> sha256
	n     int
}

func newSource(t *testing.T) *source {
	s := &source{dir: filepath.Join(t.TempDir(), "xroad"), pdir: filepath.Join(t.TempDir(), "pool"), files: map[string]string{}}
	os.MkdirAll(filepath.Join(s.dir, "backup"), 0o755)
	o := xroadgen.Demo(s.pdir)
	o.SmallArchives, o.Archives, o.Encrypted, o.Backups, o.WorkingFiles, o.LegacyBackup = 400, 0, 0, 0, false, false
	files, err := xroadgen.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		s.pool = append(s.pool, f.Rel)
	}
	return s
}

func sha(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (s *source) path(rel string) string { return filepath.Join(s.dir, filepath.FromSlash(rel)) }

// grow releases a few small archives and writes one large archive and one
// backup, all with old mtimes (finished, prunable). With clockBack the
// archives carry mtimes 90 minutes in the future: they were written before
// the host's clock jumped back. (Backups keep old mtimes: a backup from
// the future waits, by design, until it has been quiet for the quiet
// period by the clock.)
func (s *source) grow(t *testing.T, small int, large int64, clockBack bool) {
	old := time.Now().Add(-2 * time.Hour)
	mt := func(rel string) time.Time {
		if clockBack && !strings.HasPrefix(rel, "backup/") {
			return time.Now().Add(90 * time.Minute)
		}
		return old
	}
	for i := 0; i < small && len(s.pool) > 0; i++ {
		rel := s.pool[0]
		s.pool = s.pool[1:]
		if err := os.Rename(filepath.Join(s.pdir, rel), filepath.Join(s.dir, rel)); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(filepath.Join(s.dir, rel), mt(rel), mt(rel))
		s.files[rel] = sha(filepath.Join(s.dir, rel))
	}
	s.n++
	for _, f := range []struct {
		rel  string
		size int64
	}{
		{fmt.Sprintf("mlog-CHAOS-20261101%06d-20261101%06d-%016x.zip", s.n, s.n, s.n), large},
		{fmt.Sprintf("backup/ss-automatic-backup-2026_11_01_%06d.gpg", s.n), large / 4},
	} {
		b := make([]byte, f.size)
		rand.Read(b)
		p := filepath.Join(s.dir, f.rel)
		if err := os.WriteFile(p, b, 0o640); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mt(f.rel), mt(f.rel))
		s.files[f.rel] = sha(p)
	}
}

func syncArgs(endpoint string, extra ...string) []string {
	return append([]string{"sync", "--dest", "s3://chaos/ss1", "--kms-key-id", kmsKey, "--endpoint-url", endpoint,
		"--part-size", "5MiB", "--multipart-threshold", "8MiB", "--backup-quiet-period", "1s", "--log-level", "error", "--no-progress"}, extra...)
}

func runArchiver(env []string, src string, args ...string) (int, string) {
	cmd := exec.Command(binary, append(args, "--source", src)...)
	cmd.Env = append(os.Environ(), env...)
	out, _ := cmd.CombinedOutput()
	return cmd.ProcessState.ExitCode(), string(out)
}

// cleanRun is the first run without faults after faults: it must exit 0
// and leave every file ever created recorded in the committed manifest.
// It returns false (and reports why) when it does not.
func cleanRun(t *testing.T, what string, m *minio, s *source, inv *inventory, extra ...string) bool {
	t.Helper()
	code, out := runArchiver(m.environ(), s.dir, syncArgs(m.url(), extra...)...)
	if code != 0 {
		t.Errorf("%s: the first clean run exited %d: %s", what, code, oneLine(out))
		return false
	}
	if missing := complete(t, s, inv); len(missing) > 0 {
		t.Errorf("%s: the clean run exited 0 but %d files are not in the manifest: %v", what, len(missing), missing)
		return false
	}
	return true
}

// TestCrashCampaign kills archiver sync with SIGKILL at random moments;
// every tenth cycle the host clock has jumped back (archives from the
// future).
func TestCrashCampaign(t *testing.T) {
	t.Parallel() // each campaign has its own MinIO
	cycles := envInt("CHAOS_CYCLES", 50)
	large := int64(envInt("CHAOS_LARGE_MIB", 40)) << 20
	m := startMinIO(t)
	c := m.client(t)
	inv := newInventory(c)
	s := newSource(t)
	rnd := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var kills, midUpload, checks, totalLost, cleanNotOK, clockBack int
	for i := 0; i < cycles; i++ {
		back := i%10 == 9
		if back {
			clockBack++
		}
		s.grow(t, 6, large, back)
		prune := []string{}
		if i%2 == 1 {
			prune = []string{"--prune-local", "1h"}
		}
		cmd := exec.Command(binary, append(syncArgs(m.url(), append(prune, "--bandwidth-limit", "25MiB")...), "--source", s.dir)...)
		cmd.Env = append(os.Environ(), m.environ()...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rnd.IntN(2500)) * time.Millisecond)
		if inv.uploads(t) > 0 {
			midUpload++
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		kills++
		l, _ := check(t, s, inv)
		checks++
		totalLost += l
		if !cleanRun(t, fmt.Sprintf("cycle %d", i), m, s, inv, prune...) {
			cleanNotOK++
		}
		l, _ = check(t, s, inv)
		checks++
		totalLost += l
	}
	// After a final clean run no multipart upload may be left.
	if code, out := runArchiver(m.environ(), s.dir, syncArgs(m.url())...); code != 0 {
		t.Errorf("final run exited %d: %s", code, oneLine(out))
	}
	left := inv.uploads(t)
	_, pruned := check(t, s, inv)
	report(t, "crash", map[string]any{"cycles": cycles, "sigkills": kills, "killed_mid_multipart_upload": midUpload, "invariant_checks": checks + 1,
		"clock_jumped_back": clockBack, "files": len(s.files), "pruned_after_proof": pruned, "first_clean_run_not_ok": cleanNotOK,
		"uploads_left": left, "files_lost": totalLost})
	if left != 0 {
		t.Errorf("%d multipart uploads left after the final run", left)
	}
}

// TestNetworkCampaign runs sync through a faulty proxy and restarts MinIO.
// Every third run the proxy also refuses conditional PUTs of stored keys
// by resetting the connection mid-body (issue 17).
func TestNetworkCampaign(t *testing.T) {
	t.Parallel() // each campaign has its own MinIO
	runs := envInt("CHAOS_NET_RUNS", 20)
	m := startMinIO(t)
	c := m.client(t)
	inv := newInventory(c)
	p, err := NewProxy(m.url(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	exists := func(b, k string) bool {
		_, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &b, Key: &k})
		return err == nil
	}
	s := newSource(t)
	var ok, failedLoudly, restarts, okWithMissing, totalLost, cleanNotOK int
	for i := 0; i < runs; i++ {
		s.grow(t, 5, 12<<20, false)
		p.Set(Faults{SlowDown: 0.05, InternalError: 0.03, Reset: 0.03, Stall: 0.02, StallFor: 2 * time.Second, Latency: 2 * time.Millisecond,
			EarlyClose: i%3 == 2, IgnoreExpect: i%6 == 5, Exists: exists})
		done := make(chan struct{})
		if i%4 == 3 {
			restarts++
			go func() {
				defer close(done)
				time.Sleep(400 * time.Millisecond)
				m.stop()
				time.Sleep(time.Second)
				m.start(t)
			}()
		} else {
			close(done)
		}
		code, out := runArchiver(m.environ(), s.dir, syncArgs(p.URL(), "--prune-local", "1h")...)
		<-done
		switch code {
		case 0:
			ok++
			// Success must mean everything is archived: every file either
			// pruned after proof or still local, and recorded.
			if missing := complete(t, s, inv); len(missing) > 0 {
				okWithMissing++
				t.Errorf("run %d exited 0 but %d files are not in the manifest: %v", i, len(missing), missing)
			}
		default:
			failedLoudly++
			if !strings.Contains(out, "archiver") && !strings.Contains(out, "FAILED") && !strings.Contains(out, "failed") {
				t.Errorf("run %d exited %d without saying why: %s", i, code, oneLine(out))
			}
		}
		l, _ := check(t, s, inv)
		totalLost += l
	}
	p.Set(Faults{})
	if !cleanRun(t, "after the network faults", m, s, inv) {
		cleanNotOK++
	}
	left := inv.uploads(t)
	l, pruned := check(t, s, inv)
	totalLost += l
	report(t, "network", map[string]any{"runs": runs, "exit_0": ok, "failed_loudly": failedLoudly, "exit_0_with_missing_files": okWithMissing,
		"minio_restarts": restarts, "requests": p.Count.Requests.Load(), "slowdown_503": p.Count.SlowDown.Load(), "internal_error_500": p.Count.Internal.Load(),
		"connection_resets": p.Count.Reset.Load(), "stalls_2s": p.Count.Stall.Load(), "early_close_412_as_reset": p.Count.EarlyClose.Load(),
		"files": len(s.files), "pruned_after_proof": pruned, "first_clean_run_not_ok": cleanNotOK, "uploads_left": left, "files_lost": totalLost})
	if left != 0 {
		t.Errorf("%d uploads left after the clean run", left)
	}
}

// oneLine keeps a command's output on one line, so the campaign's summary
// (which keeps only test log lines) shows all of it.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " | ")), " ")
}

func report(t *testing.T, name string, kv map[string]any) {
	var b strings.Builder
	fmt.Fprintf(&b, "CHAOS %s:", name)
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	for _, k := range sortStrings(keys) {
		fmt.Fprintf(&b, " %s=%v", k, kv[k])
	}
	t.Log(b.String())
	if p := os.Getenv("CHAOS_OUT"); p != "" {
		f, _ := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		fmt.Fprintln(f, b.String())
		f.Close()
	}
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}
