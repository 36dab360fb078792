// Command benchscale measures what one sync run costs as the history
// grows (make bench-scale; a development tool, not shipped in the image).
// For each size it builds a file:// destination whose history holds that
// many entries, committed through archiver's own manifest writer in runs
// of -per-run entries, and a source volume holding the newest -local of
// those files (the rest pruned, as in production). Then it times the real
// binary: a no-op sync (median of three) and an incremental sync of
// -new new files, then verify (every object re-read, and a 1% sample)
// and restore (one file by name, one day by --since/--until), each with
// peak RSS (/usr/bin/time) and the bookkeeping requests and bytes the
// run reports in its JSON output.
//
// The history's archives are encrypted archives (.zip.gpg, the same
// small well-formed OpenPGP message in each) whose manifest entries
// carry a chain record, so verify checks every object's SHA-256 and
// framing and the whole chain's continuity, without the cost of
// generating a million real archives.
//
//	go run ./tools/benchscale -bin bin/archiver -sizes 1000,10000,100000,1000000
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/manifest/manifesttest"
	"github.com/xroad-archiver/archiver/internal/xroad"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

func main() {
	bin := flag.String("bin", "bin/archiver", "archiver binary to measure")
	sizes := flag.String("sizes", "1000,10000,100000,1000000", "history sizes (entries)")
	local := flag.Int("local", 1000, "files still on the volume (the newest of the history)")
	perRun := flag.Int("per-run", 5000, "entries per committed run while building the history")
	newFiles := flag.Int("new", 10, "files the incremental run ships")
	work := flag.String("work", "", "work directory (default: a temporary one, removed after)")
	flag.Parse()
	if *work == "" {
		d, err := os.MkdirTemp("", "archiver-bench-scale-")
		check(err)
		defer os.RemoveAll(d)
		*work = d
	}
	body = framedMessage(*work)
	var rows []string
	fmt.Println("| history (entries) | build history | no-op run | no-op RSS | no-op bookkeeping read | incremental run (+" + strconv.Itoa(*newFiles) + ") | incr. RSS | incr. bookkeeping read / written |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		check(err)
		rows = append(rows, row(*bin, filepath.Join(*work, strconv.Itoa(n)), n, min(*local, n), *perRun, *newFiles))
	}
	fmt.Println()
	fmt.Println("| history (entries) | verify, all re-read | RSS | record read | verify --sample 1 | RSS | record read | restore one file | RSS | record read | restore one day | RSS | record read |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Println(r)
	}
}

// body is every history archive's content: a small well-formed OpenPGP
// encrypted message, as X-Road's gpg call writes (from xroadgen).
var body []byte

func framedMessage(work string) []byte {
	dir := filepath.Join(work, "framed")
	files, err := xroadgen.Generate(xroadgen.Options{Dir: dir, Start: base, Seed: 7, Encrypted: 1, SmallArchives: 1, SmallSize: 512})
	check(err)
	for _, f := range files {
		if f.Kind == xroad.KindEncryptedArchive {
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Rel)))
			check(err)
			check(os.RemoveAll(dir))
			return b
		}
	}
	check(fmt.Errorf("xroadgen wrote no encrypted archive"))
	return nil
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchscale:", err)
		os.Exit(1)
	}
}

var base = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// name is the i-th archive: one group, an X-Road name per minute, its Z
// the prefix of its last chain digest.
func name(i int) string {
	x := base.Add(time.Duration(i) * time.Minute)
	return fmt.Sprintf("mlog-EE_GOV_70000310-%s-%s-%s.zip.gpg", x.Format("20060102150405"), x.Add(30*time.Second).Format("20060102150405"), digest(i)[:16])
}

// digest is the i-th archive's last chain digest.
func digest(i int) string {
	sum := sha256.Sum256([]byte(strconv.Itoa(i)))
	return hex.EncodeToString(sum[:])
}

// chain is the i-th archive's place in the chain, as sync records it for
// an archive whose linkinginfo it read.
func chain(i int) *manifest.Chain {
	c := &manifest.Chain{Algorithm: "SHA-256", LastDigest: digest(i), Containers: 1}
	if i > 0 {
		c.PrevArchive, c.PrevDigest = name(i-1), digest(i-1)
	}
	return c
}

func row(bin, dir string, n, local, perRun, newFiles int) string {
	ctx := context.Background()
	src, dest := filepath.Join(dir, "src"), filepath.Join(dir, "dest")
	check(os.MkdirAll(src, 0o755))
	check(os.MkdirAll(dest, 0o755))
	h, err := manifesttest.NewHistory(dest, perRun)
	check(err)
	h.RunID = func(seq int) string { return fmt.Sprintf("history-%06d", seq) }
	h.StartsRecorded = true
	started := time.Now()
	for i := 0; i < n; i++ {
		p := name(i)
		e := manifesttest.Entry(p, "encrypted-archive", base.Add(time.Duration(i)*time.Minute), body)
		e.RunID, e.Chain = h.NextRunID(), chain(i)
		if i >= n-local {
			check(os.WriteFile(filepath.Join(src, p), body, 0o640))
			check(os.Chtimes(filepath.Join(src, p), e.MTime, e.MTime))
		}
		check(h.Add(ctx, e, body))
	}
	check(h.Commit(ctx))
	build := time.Since(started)
	var noop []result
	for range 3 {
		noop = append(noop, sync(bin, src, dest))
	}
	sort.Slice(noop, func(i, j int) bool { return noop[i].secs < noop[j].secs })
	for i := n; i < n+newFiles; i++ {
		p := filepath.Join(src, name(i))
		check(os.WriteFile(p, body, 0o640))
		t := base.Add(time.Duration(i) * time.Minute)
		check(os.Chtimes(p, t, t))
	}
	incr := sync(bin, src, dest)
	if incr.Uploaded != newFiles {
		check(fmt.Errorf("incremental run shipped %d files, want %d", incr.Uploaded, newFiles))
	}
	med := noop[1]
	fmt.Printf("| %d | %.1f s | %.3f s | %d MiB | %s in %d requests | %.3f s | %d MiB | %s / %s |\n", n, build.Seconds(),
		med.secs, med.kib/1024, size(med.Bookkeeping.BytesRead), med.Bookkeeping.Requests,
		incr.secs, incr.kib/1024, size(incr.Bookkeeping.BytesRead), size(incr.Bookkeeping.BytesWritten))
	full := run(bin, "verified", "verify", "--dest", "file://"+dest)
	sample := run(bin, "verified", "verify", "--dest", "file://"+dest, "--sample", "1")
	one := run(bin, "ok", "restore", "--from", "file://"+dest, "--to", filepath.Join(dir, "one"), "--include", name(n/2))
	day := base.Add(time.Duration(n/2) * time.Minute).Truncate(24 * time.Hour)
	if day.Before(base) {
		day = base
	}
	oneDay := run(bin, "ok", "restore", "--from", "file://"+dest, "--to", filepath.Join(dir, "day"),
		"--since", day.Format(time.RFC3339), "--until", day.Add(24*time.Hour-time.Second).Format(time.RFC3339))
	if one.Restored.Files != 1 || oneDay.Restored.Files == 0 {
		check(fmt.Errorf("restored %d files for one name, %d for one day", one.Restored.Files, oneDay.Restored.Files))
	}
	check(os.RemoveAll(dir))
	cell := func(r result) string {
		return fmt.Sprintf("%.2f s | %d MiB | %s", r.secs, r.kib/1024, size(r.Bookkeeping.BytesRead))
	}
	return fmt.Sprintf("| %d | %s | %s | %s | %s (%d files) |", n, cell(full), cell(sample), cell(one), cell(oneDay), oneDay.Restored.Files)
}

type result struct {
	secs        float64
	kib         int
	Uploaded    int
	Bookkeeping manifest.Stats
	Status      string
	Restored    struct {
		Files int `json:"files"`
	}
}

// sync runs the binary's sync once under /usr/bin/time.
func sync(bin, src, dest string) result {
	r := run(bin, "", "sync", "--source", src, "--dest", "file://"+dest)
	return r
}

// run runs the binary once under /usr/bin/time with JSON output; a
// status other than want ("" any) stops the benchmark.
func run(bin, want string, args ...string) result {
	tf, err := os.CreateTemp("", "benchscale-time-")
	check(err)
	tf.Close()
	defer os.Remove(tf.Name())
	args = append([]string{"-f", "%e %M", "-o", tf.Name(), bin}, args...)
	cmd := exec.Command("/usr/bin/time", append(args, "-o", "json", "--log-level", "warn", "--no-progress")...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	var r result
	var js struct {
		Uploaded struct {
			Files int `json:"files"`
		} `json:"uploaded"`
		Bookkeeping manifest.Stats  `json:"bookkeeping"`
		Status      string          `json:"status"`
		Findings    json.RawMessage `json:"findings"`
		Restored    struct {
			Files int `json:"files"`
		} `json:"restored"`
	}
	if err := json.Unmarshal(out.Bytes(), &js); err != nil || runErr != nil && want == "" || want != "" && js.Status != want {
		f := string(js.Findings)
		check(fmt.Errorf("%s: %v, status %q (want %q): %s %.2000s", args[4], runErr, js.Status, want, errb.String(), f))
	}
	r.Uploaded, r.Bookkeeping, r.Status, r.Restored = js.Uploaded.Files, js.Bookkeeping, js.Status, js.Restored
	b, err := os.ReadFile(tf.Name())
	check(err)
	_, err = fmt.Sscanf(string(b), "%f %d", &r.secs, &r.kib)
	check(err)
	return r
}

func size(n int64) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 10<<10:
		return fmt.Sprintf("%.0f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
