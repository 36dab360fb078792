//go:build chaos

package chaos

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

// jobsSource is an archive directory of genuine X-Road evidence (hash
// chains verify), so verify and restore have something real to prove.
func jobsSource(t *testing.T) *source {
	t.Helper()
	s := &source{dir: filepath.Join(t.TempDir(), "xroad"), files: map[string]string{}}
	o := xroadgen.Demo(s.dir)
	o.Archives, o.ArchiveSize, o.SmallArchives, o.Backups, o.BackupSize, o.WorkingFiles = 4, 12<<20, 60, 3, 4<<20, false
	files, err := xroadgen.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	for _, f := range files {
		p := s.path(f.Rel)
		os.Chtimes(p, old, old)
		s.files[f.Rel] = sha(p)
	}
	return s
}

// bucketState is every key under ss1/ with its ETag: verify must change
// none of it.
func bucketState(t *testing.T, c *s3.Client) string {
	t.Helper()
	var lines []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("chaos"), Prefix: aws.String("ss1/")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, o := range page.Contents {
			lines = append(lines, aws.ToString(o.Key)+" "+aws.ToString(o.ETag))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// restored checks a restore target against the manifest: every file under
// a real name holds exactly the recorded bytes (never a partial file). It
// returns how many recorded files are in place, how many are corrupt, and
// the temporary files present.
func restored(t *testing.T, dir string, entries []manifest.Entry) (ok, corrupt, temps int) {
	t.Helper()
	want := map[string]string{}
	for _, e := range manifest.Current(entries) {
		want[filepath.FromSlash(e.Path)] = e.SHA256
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasSuffix(d.Name(), ".tmp") {
			temps++
			return nil
		}
		w, known := want[rel]
		switch {
		case !known:
			t.Errorf("restore wrote %s, which the manifest does not record", rel)
		case sha(p) != w:
			corrupt++
			t.Errorf("CORRUPT: restored %s does not hold the recorded bytes", rel)
		default:
			ok++
		}
		return nil
	})
	return ok, corrupt, temps
}

func killAfter(t *testing.T, rnd *mrand.Rand, maxMS int, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Duration(rnd.IntN(maxMS)) * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

func run(env []string, args ...string) (int, string) {
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	out, _ := cmd.CombinedOutput()
	return cmd.ProcessState.ExitCode(), string(out)
}

// TestJobsCrashCampaign kills verify and restore at random moments, fills
// the restore target's disk, and checks after every step: verify changed
// nothing in the bucket; a restore target never holds a partial or wrong
// file under a real name; the first clean run after the fault exits 0
// (verify: no finding; restore: every recorded file in place, no
// temporary file left).
func TestJobsCrashCampaign(t *testing.T) {
	t.Parallel() // each campaign has its own MinIO
	cycles := envInt("CHAOS_JOB_CYCLES", 30)
	m := startMinIO(t)
	c := m.client(t)
	inv := newInventory(c)
	s := jobsSource(t)
	if code, out := runArchiver(m.environ(), s.dir, syncArgs(m.url())...); code != 0 {
		t.Fatalf("initial sync exited %d: %s", code, out)
	}
	if missing := complete(t, s, inv); len(missing) > 0 {
		t.Fatalf("initial sync left %v out of the manifest", missing)
	}
	ms, err := store.NewS3(c, store.S3Options{Bucket: "chaos", Prefix: "ss1", ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	man, _, err := manifest.Latest(context.Background(), ms)
	if err != nil || man == nil {
		t.Fatalf("manifest: %v", err)
	}
	dest := []string{"--endpoint-url", m.url(), "--log-level", "error", "--no-progress"}
	verifyArgs := append([]string{"verify", "--dest", "s3://chaos/ss1"}, dest...)
	rnd := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 11))
	root := t.TempDir()
	before := bucketState(t, c)
	counts := map[string]int{}
	for i := 0; i < cycles; i++ {
		switch i % 3 {
		case 0: // verify, killed
			killAfter(t, rnd, 2000, m.environ(), verifyArgs...)
			counts["verify_kills"]++
			if after := bucketState(t, c); after != before {
				t.Errorf("cycle %d: a killed verify changed the bucket", i)
			}
			if code, out := run(m.environ(), verifyArgs...); code != 0 {
				counts["verify_clean_not_ok"]++
				t.Errorf("cycle %d: the first clean verify after a kill exited %d: %s", i, code, oneLine(out))
			}
		case 1, 2: // restore, killed, then the clean rerun into the same target
			to := filepath.Join(root, fmt.Sprintf("r%d", i))
			full := i%15 == 14
			if full { // the target's disk is full: a 6 MiB tmpfs for ~70 MiB
				os.MkdirAll(to, 0o755)
				if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", to).CombinedOutput(); err != nil {
					t.Fatalf("mount tmpfs: %v: %s", err, out)
				}
				code, out := run(m.environ(), append([]string{"restore", "--from", "s3://chaos/ss1", "--to", to}, dest...)...)
				counts["restore_disk_full"]++
				if code != 1 || !strings.Contains(out, "no space left") {
					counts["restore_disk_full_not_clear"]++
					t.Errorf("cycle %d: restore into a full disk exited %d: %s", i, code, oneLine(out))
				}
				if _, corrupt, temps := restored(t, to, man.Entries); corrupt > 0 || temps > 0 {
					t.Errorf("cycle %d: a full disk left %d corrupt and %d temporary files", i, corrupt, temps)
				}
				exec.Command("umount", to).Run()
			} else {
				killAfter(t, rnd, 1500, m.environ(), append([]string{"restore", "--from", "s3://chaos/ss1", "--to", to}, dest...)...)
				counts["restore_kills"]++
				if _, corrupt, _ := restored(t, to, man.Entries); corrupt > 0 {
					counts["restore_corrupt_after_kill"] += corrupt
				}
			}
			code, out := run(m.environ(), append([]string{"restore", "--from", "s3://chaos/ss1", "--to", to}, dest...)...)
			okFiles, corrupt, temps := restored(t, to, man.Entries)
			if code != 0 || okFiles != len(manifest.Current(man.Entries)) || corrupt > 0 || temps > 0 {
				counts["restore_clean_not_ok"]++
				t.Errorf("cycle %d: the first clean restore exited %d with %d of %d files, %d corrupt, %d temporary: %s",
					i, code, okFiles, len(manifest.Current(man.Entries)), corrupt, temps, oneLine(out))
			}
			os.RemoveAll(to)
		}
		if l, _ := check(t, s, inv); l > 0 {
			counts["files_lost"] += l
		}
	}
	if after := bucketState(t, c); after != before {
		t.Errorf("the bucket changed during the verify and restore campaign")
	}
	kv := map[string]any{"cycles": cycles, "files": len(s.files)}
	for _, k := range []string{"verify_kills", "verify_clean_not_ok", "restore_kills", "restore_corrupt_after_kill", "restore_disk_full",
		"restore_disk_full_not_clear", "restore_clean_not_ok", "files_lost"} {
		kv[k] = counts[k]
	}
	report(t, "jobs", kv)
}
