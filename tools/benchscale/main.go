// Command benchscale measures what one sync run costs as the history
// grows (make bench-scale; a development tool, not shipped in the image).
// For each size it builds a file:// destination whose history holds that
// many entries, committed through archiver's own manifest writer in runs
// of -per-run entries, and a source volume holding the newest -local of
// those files (the rest pruned, as in production). Then it times the real
// binary: a no-op sync (median of three) and an incremental sync of
// -new new files, with peak RSS (/usr/bin/time) and the bookkeeping
// requests and bytes the run reports in its JSON output.
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
	"github.com/xroad-archiver/archiver/internal/store"
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
	fmt.Println("| history (entries) | build history | no-op run | no-op RSS | no-op bookkeeping read | incremental run (+" + strconv.Itoa(*newFiles) + ") | incr. RSS | incr. bookkeeping read / written |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		check(err)
		row(*bin, filepath.Join(*work, strconv.Itoa(n)), n, min(*local, n), *perRun, *newFiles)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchscale:", err)
		os.Exit(1)
	}
}

var base = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// name is the i-th archive: one group, an X-Road name per minute.
func name(i int) string {
	x := base.Add(time.Duration(i) * time.Minute)
	return fmt.Sprintf("mlog-EE_GOV_70000310-%s-%s-%016x.zip", x.Format("20060102150405"), x.Add(30*time.Second).Format("20060102150405"), uint64(i)*2654435761)
}

func row(bin, dir string, n, local, perRun, newFiles int) {
	ctx := context.Background()
	src, dest := filepath.Join(dir, "src"), filepath.Join(dir, "dest")
	check(os.MkdirAll(src, 0o755))
	check(os.MkdirAll(dest, 0o755))
	s, err := store.NewLocal(dest)
	check(err)
	started := time.Now()
	var entries []manifest.Entry
	seq := int64(0)
	var st *manifest.State
	flush := func() {
		if len(entries) == 0 {
			return
		}
		seq++
		run := fmt.Sprintf("history-%06d", seq)
		m := &manifest.Manifest{Seq: 1, RunID: run, Created: time.Now().UTC(), Entries: entries, StartsRecorded: true}
		if st != nil {
			m.Seq, m.Previous = st.Head.Seq+1, st.Ref
		}
		_, err := manifest.CommitRun(ctx, s, st, m, nil)
		check(err)
		st, err = manifest.OpenLatest(ctx, s)
		check(err)
		entries = nil
	}
	for i := 0; i < n; i++ {
		p := name(i)
		e := manifest.Entry{Path: p, Key: p, Kind: "archive", Size: 64, MTime: base.Add(time.Duration(i) * time.Minute), StoredSize: 64, RunID: fmt.Sprintf("history-%06d", seq+1)}
		body := []byte(fmt.Sprintf("%064d", i))
		if i >= n-local {
			check(os.WriteFile(filepath.Join(src, p), body, 0o640))
			check(os.Chtimes(filepath.Join(src, p), e.MTime, e.MTime))
		}
		sum := sha256.Sum256(body)
		e.SHA256 = hex.EncodeToString(sum[:])
		entries = append(entries, e)
		if len(entries) == perRun {
			flush()
		}
	}
	flush()
	build := time.Since(started)
	var noop []result
	for range 3 {
		noop = append(noop, sync(bin, src, dest))
	}
	sort.Slice(noop, func(i, j int) bool { return noop[i].secs < noop[j].secs })
	for i := n; i < n+newFiles; i++ {
		p := filepath.Join(src, name(i))
		check(os.WriteFile(p, []byte(fmt.Sprintf("%064d", i)), 0o640))
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
	check(os.RemoveAll(dir))
}

type result struct {
	secs        float64
	kib         int
	Uploaded    int
	Bookkeeping manifest.Stats
}

// sync runs the binary once under /usr/bin/time.
func sync(bin, src, dest string) result {
	tf, err := os.CreateTemp("", "benchscale-time-")
	check(err)
	tf.Close()
	defer os.Remove(tf.Name())
	cmd := exec.Command("/usr/bin/time", "-f", "%e %M", "-o", tf.Name(), bin, "sync", "--source", src, "--dest", "file://"+dest,
		"-o", "json", "--log-level", "warn", "--no-progress")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		check(fmt.Errorf("sync: %v: %s", err, errb.String()))
	}
	var r result
	var js struct {
		Uploaded struct {
			Files int `json:"files"`
		} `json:"uploaded"`
		Bookkeeping manifest.Stats `json:"bookkeeping"`
	}
	check(json.Unmarshal(out.Bytes(), &js))
	r.Uploaded, r.Bookkeeping = js.Uploaded.Files, js.Bookkeeping
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
