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
	"net/url"
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

// grow releases a few small archives and writes one large archive and one
// backup, all with old mtimes (finished, prunable).
func (s *source) grow(t *testing.T, small int, large int64) {
	old := time.Now().Add(-2 * time.Hour)
	for i := 0; i < small && len(s.pool) > 0; i++ {
		rel := s.pool[0]
		s.pool = s.pool[1:]
		if err := os.Rename(filepath.Join(s.pdir, rel), filepath.Join(s.dir, rel)); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(filepath.Join(s.dir, rel), old, old)
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
		os.Chtimes(p, old, old)
		s.files[f.rel] = sha(p)
	}
}

// remote maps each object's source path to the SHA-256s stored for it,
// checking that every object is SSE-KMS encrypted.
func remote(t *testing.T, c *s3.Client) (map[string]map[string]bool, int) {
	out := map[string]map[string]bool{}
	unencrypted := 0
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("chaos"), Prefix: aws.String("ss1/")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if strings.HasPrefix(k, "ss1/.archiver/") {
				continue
			}
			h, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("chaos"), Key: o.Key})
			if err != nil {
				t.Fatalf("head %s: %v", k, err)
			}
			if h.ServerSideEncryption != "aws:kms" {
				unencrypted++
			}
			path, _ := url.PathUnescape(h.Metadata["archiver-path"])
			if out[path] == nil {
				out[path] = map[string]bool{}
			}
			out[path][h.Metadata["archiver-sha256"]] = true
		}
	}
	return out, unencrypted
}

// check proves the invariant: every file ever created is still local with
// its SHA-256, or in S3 with that SHA-256; every object is encrypted. It
// returns how many files are lost and how many are only remote (pruned).
func check(t *testing.T, s *source, c *s3.Client) (lost, pruned int) {
	t.Helper()
	rem, unenc := remote(t, c)
	if unenc > 0 {
		t.Errorf("%d objects without SSE-KMS", unenc)
	}
	for rel, want := range s.files {
		if got := sha(filepath.Join(s.dir, rel)); got == want {
			continue
		} else if got != "" {
			t.Errorf("%s changed locally", rel)
		}
		if rem[rel][want] {
			pruned++
			continue
		}
		lost++
		t.Errorf("LOST: %s is neither local nor in S3 with SHA-256 %s", rel, want)
	}
	return lost, pruned
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

// TestCrashCampaign kills archiver sync with SIGKILL at random moments.
func TestCrashCampaign(t *testing.T) {
	cycles := envInt("CHAOS_CYCLES", 50)
	m := startMinIO(t)
	c := m.client(t)
	s := newSource(t)
	rnd := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var kills, midUpload, checks, totalLost, nonZero int
	for i := 0; i < cycles; i++ {
		s.grow(t, 6, 40<<20)
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
		ups, _ := c.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String("chaos")})
		if len(ups.Uploads) > 0 {
			midUpload++
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		kills++
		l, _ := check(t, s, c)
		checks++
		totalLost += l
		if code, out := runArchiver(m.environ(), s.dir, syncArgs(m.url(), prune...)...); code != 0 {
			nonZero++
			t.Logf("cycle %d: the normal run after the kill exited %d: %s", i, code, out)
		}
		l, _ = check(t, s, c)
		checks++
		totalLost += l
	}
	// After a final clean run no multipart upload may be left.
	if code, out := runArchiver(m.environ(), s.dir, syncArgs(m.url())...); code != 0 {
		t.Errorf("final run exited %d: %s", code, out)
	}
	ups, _ := c.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String("chaos")})
	_, pruned := check(t, s, c)
	report(t, "crash", map[string]any{"cycles": cycles, "sigkills": kills, "killed_mid_multipart_upload": midUpload, "invariant_checks": checks + 1,
		"files": len(s.files), "pruned_after_proof": pruned, "normal_runs_not_ok": nonZero, "uploads_left": len(ups.Uploads), "files_lost": totalLost})
	for _, u := range ups.Uploads {
		_, herr := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("chaos"), Key: u.Key})
		t.Errorf("multipart upload left after the final run: %s initiated %s (object exists: %v)", aws.ToString(u.Key), aws.ToTime(u.Initiated), herr == nil)
	}
}

// TestNetworkCampaign runs sync through a faulty proxy and restarts MinIO.
func TestNetworkCampaign(t *testing.T) {
	runs := envInt("CHAOS_NET_RUNS", 20)
	m := startMinIO(t)
	c := m.client(t)
	p, err := NewProxy(m.url(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s := newSource(t)
	var ok, failedLoudly, restarts, okWithMissing, totalLost int
	for i := 0; i < runs; i++ {
		s.grow(t, 5, 12<<20)
		p.Set(Faults{SlowDown: 0.05, InternalError: 0.03, Reset: 0.03, Stall: 0.02, StallFor: 2 * time.Second, Latency: 2 * time.Millisecond})
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
			// pruned after proof or still local and in S3.
			rem, _ := remote(t, c)
			for rel, want := range s.files {
				if !rem[rel][want] {
					okWithMissing++
					t.Errorf("run %d exited 0 but %s is not in S3", i, rel)
				}
			}
		default:
			failedLoudly++
			if !strings.Contains(out, "archiver") && !strings.Contains(out, "FAILED") && !strings.Contains(out, "failed") {
				t.Errorf("run %d exited %d without saying why: %s", i, code, out)
			}
		}
		l, _ := check(t, s, c)
		totalLost += l
	}
	p.Set(Faults{})
	if code, out := runArchiver(m.environ(), s.dir, syncArgs(p.URL())...); code != 0 {
		t.Errorf("clean run after the campaign exited %d: %s", code, out)
	}
	ups, _ := c.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String("chaos")})
	l, pruned := check(t, s, c)
	totalLost += l
	report(t, "network", map[string]any{"runs": runs, "exit_0": ok, "failed_loudly": failedLoudly, "exit_0_with_missing_files": okWithMissing,
		"minio_restarts": restarts, "requests": p.Count.Requests.Load(), "slowdown_503": p.Count.SlowDown.Load(), "internal_error_500": p.Count.Internal.Load(),
		"connection_resets": p.Count.Reset.Load(), "stalls_2s": p.Count.Stall.Load(), "files": len(s.files), "pruned_after_proof": pruned,
		"uploads_left": len(ups.Uploads), "files_lost": totalLost})
	if len(ups.Uploads) != 0 {
		t.Errorf("%d uploads left after the clean run", len(ups.Uploads))
	}
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
