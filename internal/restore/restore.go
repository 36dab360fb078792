package restore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/xroad-archiver/archiver/internal/codec"
	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/parallel"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/xroad"
)

// Options configure a restore.
type Options struct {
	Store   store.Reader
	To      string   // target directory (created if missing)
	AsOf    string   // run id whose manifest to restore ("" latest)
	Include []string // globs matched against the path and the base name
	// Since and Until select archives by their own X/Y record times (and
	// other files by mtime); zero means open.
	Since, Until time.Time
	// Zone is the zone the X and Y times of archive names are written in
	// (the Security Server JVM's default zone); nil means UTC.
	Zone        *time.Location
	Force       bool // replace existing files
	DryRun      bool
	Concurrency int
	Log         *slog.Logger
	Progress    Progress
}

// Progress receives progress events (safe for concurrent use).
type Progress interface {
	Start(files int, bytes int64)
	Done(bytes int64)
	Finish()
}

// Count is files and bytes.
type Count struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// Item is one file of a restore.
type Item struct {
	Path   string `json:"path"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	Reason string `json:"reason,omitempty"`
}

// Result is the outcome.
type Result struct {
	From        string         `json:"from"`
	To          string         `json:"to"`
	RunID       string         `json:"run_id"`
	DryRun      bool           `json:"dry_run"`
	Status      outcome.Status `json:"status"` // ok, partial, failed
	Error       string         `json:"error,omitempty"`
	Selected    Count          `json:"selected"`
	Restored    Count          `json:"restored"`
	Present     []Item         `json:"already_present,omitempty"` // identical file already there
	Existing    []Item         `json:"existing,omitempty"`        // different file there; --force replaces
	Failed      []Item         `json:"failed,omitempty"`
	Planned     []Item         `json:"planned,omitempty"`
	Started     time.Time      `json:"started"`
	DurationSec float64        `json:"duration_seconds"`
	Bookkeeping manifest.Stats `json:"bookkeeping"` // reading the record: manifests, checkpoint root, leaves
}

// ErrPartial means some selected files were not restored (listed).
var ErrPartial = outcome.Partial("some files were not restored")

// ErrNoManifest means there is nothing to restore from.
var ErrNoManifest = errors.New("no manifest at the source: nothing has been archived there")

// Run restores. Disk full, access denied and KMS errors stop it (error,
// temporary files removed); per-file problems make it partial.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	res := &Result{From: o.Store.URL(), To: o.To, DryRun: o.DryRun, Started: start, Status: outcome.StatusFailed}
	defer func() { res.DurationSec = time.Since(start).Seconds() }()
	fail := func(err error) (*Result, error) {
		res.Error = err.Error()
		return res, err
	}
	// A missing bucket or directory is that, not "nothing archived".
	if err := o.Store.Check(ctx); err != nil {
		return fail(err)
	}
	var st *manifest.State
	var err error
	if o.AsOf != "" {
		st, err = manifest.OpenRun(ctx, o.Store, o.AsOf)
	} else {
		st, err = manifest.OpenLatest(ctx, o.Store)
	}
	if err != nil {
		return fail(err)
	}
	if st == nil {
		return fail(ErrNoManifest)
	}
	res.RunID = st.Head.RunID
	// Streamed one checkpoint leaf at a time: only the selection is kept.
	sel, recorded, err := selectState(ctx, st, o.Include, o.Since, o.Until, o.Zone)
	res.Bookkeeping = st.Stats
	if err != nil {
		return fail(err)
	}
	for _, e := range sel {
		res.Selected.Files++
		res.Selected.Bytes += e.Size
	}
	if len(sel) == 0 {
		return fail(fmt.Errorf("%w (run %s records %d files)", ErrNothingSelected, res.RunID, recorded))
	}
	if o.DryRun {
		return o.plan(sel, res)
	}
	if err := os.MkdirAll(o.To, 0o750); err != nil {
		return fail(fmt.Errorf("create target: %w", err))
	}
	root, err := os.OpenRoot(o.To)
	if err != nil {
		return fail(fmt.Errorf("open target: %w", err))
	}
	defer root.Close()
	removeStaleTemps(root, o.Log)
	if err := o.transfer(ctx, root, sel, res); err != nil {
		return fail(err)
	}
	return res, res.finish(len(sel), "were not restored")
}

// record files one selected entry's outcome under Failed, Present or
// Existing, and reports the item and whether the entry is (or, in a dry
// run, would be) written: the real run and the dry run count those their
// own ways.
func (res *Result) record(e manifest.Entry, outcome int, err error) (Item, bool) {
	it := Item{Path: e.Path, Key: e.Key, Size: e.Size}
	switch {
	case err != nil:
		it.Reason = err.Error()
		res.Failed = append(res.Failed, it)
	case outcome == outcomePresent:
		res.Present = append(res.Present, it)
	case outcome == outcomeExists:
		it.Reason = "a different file exists; --force replaces it"
		res.Existing = append(res.Existing, it)
	default:
		return it, true
	}
	return it, false
}

// finish sets the status: partial (ErrPartial) when some of the selected
// files failed or exist differently.
func (res *Result) finish(selected int, what string) error {
	if n := len(res.Failed) + len(res.Existing); n > 0 {
		res.Status = outcome.StatusPartial
		return fmt.Errorf("%d of %d files %s: %w", n, selected, what, ErrPartial)
	}
	res.Status = outcome.StatusOK
	return nil
}

// plan is the dry run: what the real run would do with each selected file
// given what the target holds now, with the outcome (and error) it would
// have. It writes nothing and creates no directory.
func (o *Options) plan(sel []manifest.Entry, res *Result) (*Result, error) {
	root, err := os.OpenRoot(o.To)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		res.Error = fmt.Sprintf("open target: %v", err)
		return res, fmt.Errorf("open target: %w", err)
	}
	if root != nil {
		defer root.Close()
	}
	for _, e := range sel {
		outcome, err := outcomeRestored, error(nil)
		if err = store.CheckKey(e.Path); err != nil {
			err = fmt.Errorf("%w: %v", ErrUnsafePath, err)
		} else if root != nil {
			outcome, err = o.existing(root, e)
		}
		if it, write := res.record(e, outcome, err); write {
			if outcome == outcomeReplace {
				it.Reason = "replaces a different file (--force)"
			}
			res.Planned = append(res.Planned, it)
		}
	}
	return res, res.finish(len(sel), "would not be restored")
}

// ErrNothingSelected means the filters match no archived file.
var ErrNothingSelected = errors.New("nothing matches the selection: no file restored")

// ErrBadWindow means --since is after --until.
var ErrBadWindow = errors.New("the time window is empty: since is after until")

// selectState is SelectIn over a state with bounded memory: it keeps
// only what it selects, and returns how many paths (entries, when it
// looked paths up) the state records. Includes that all name one path
// exactly (no glob characters, and a "/", so a base name cannot match
// them elsewhere) are looked up in the leaves they fall in
// (State.Index); anything else streams the state one checkpoint leaf at
// a time (path order, the versions of a path together), and includes
// without glob characters (base names) skip decoding the leaves whose
// bytes do not hold them.
func selectState(ctx context.Context, st *manifest.State, include []string, since, until time.Time, zone *time.Location) ([]manifest.Entry, int, error) {
	if exactPaths(include) {
		ix, err := st.Index(ctx, include)
		if err != nil {
			return nil, 0, err
		}
		var found []manifest.Entry
		for _, p := range include {
			if e, ok := ix.Latest(p); ok {
				found = append(found, e)
			}
		}
		sel, err := SelectIn(found, include, since, until, zone)
		return sel, int(st.Total()), err
	}
	each := st.Each
	if names := literals(include); names != nil {
		// Leaves that do not hold one of the names cannot match: skip
		// decoding them (the count of paths is then the state's total).
		each = func(ctx context.Context, fn func(manifest.Entry) error) error {
			return st.EachContaining(ctx, names, fn)
		}
	}
	var out []manifest.Entry
	paths := 0
	var last *manifest.Entry
	take := func() error {
		if last == nil {
			return nil
		}
		paths++
		sel, err := SelectIn([]manifest.Entry{*last}, include, since, until, zone)
		out = append(out, sel...)
		return err
	}
	err := each(ctx, func(e manifest.Entry) error {
		if last != nil && last.Path != e.Path {
			if err := take(); err != nil {
				return err
			}
		}
		last = &e
		return nil
	})
	if err == nil {
		err = take()
	}
	if literals(include) != nil {
		paths = int(st.Total())
	}
	return out, paths, err
}

// literals returns the includes when none has glob characters (each
// names a path or a base name), else nil.
func literals(include []string) []string {
	if len(include) == 0 {
		return nil
	}
	for _, g := range include {
		if strings.ContainsAny(g, `*?[\`) {
			return nil
		}
	}
	return include
}

// exactPaths says whether every include names one path exactly: no glob
// characters, and a slash (a glob without one also matches base names,
// in any directory).
func exactPaths(include []string) bool {
	for _, g := range include {
		if !strings.Contains(g, "/") || strings.ContainsAny(g, `*?[\`) || store.CheckKey(g) != nil {
			return false
		}
	}
	return len(include) > 0
}

// Select picks the newest version of every path that matches the filters.
func Select(entries []manifest.Entry, include []string, since, until time.Time) ([]manifest.Entry, error) {
	return SelectIn(entries, include, since, until, time.UTC)
}

// SelectIn is Select for archives whose names carry times in zone (the
// JVM's default zone of the server that wrote them; nil means UTC).
func SelectIn(entries []manifest.Entry, include []string, since, until time.Time, zone *time.Location) ([]manifest.Entry, error) {
	if zone == nil {
		zone = time.UTC
	}
	if !since.IsZero() && !until.IsZero() && since.After(until) {
		return nil, fmt.Errorf("%w (%s > %s)", ErrBadWindow, since.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	for _, g := range include {
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("--include %q: %w", g, err)
		}
	}
	var out []manifest.Entry
	for _, e := range manifest.Current(entries) {
		if matches(e, include) && inWindow(e, since, until, zone) {
			out = append(out, e)
		}
	}
	return out, nil
}

func matches(e manifest.Entry, include []string) bool {
	if len(include) == 0 {
		return true
	}
	for _, g := range include {
		if ok, _ := path.Match(g, e.Path); ok {
			return true
		}
		if ok, _ := path.Match(g, path.Base(e.Path)); ok {
			return true
		}
	}
	return false
}

// inWindow compares an archive's X..Y record times (or a file's mtime)
// with [since, until]; X and Y are wall-clock times in zone.
func inWindow(e manifest.Entry, since, until time.Time, zone *time.Location) bool {
	first, last := e.MTime, e.MTime
	if an, err := xroad.ParseArchiveName(path.Base(e.Path)); err == nil {
		first, last = an.In(zone)
	}
	if !since.IsZero() && last.Before(since) {
		return false
	}
	if !until.IsZero() && first.After(until) {
		return false
	}
	return true
}

// transfer restores the selection in two stages. Fetchers GET, decode,
// write and hash each file into a temporary file beside its target (one
// pass over the data); files of up to smallFile bytes get as many fetchers
// again as large ones, so small files keep requests in flight while large
// ones stream. Committers take each checked file off the fetchers' path:
// fsync, then link (or, with --force, rename) it to its real name, so a
// fetcher never waits on the disk's flush and concurrent fsyncs share the
// journal's commits. Last, every directory that gained a name is fsynced,
// children before parents, so the names are as durable as the contents.
func (o *Options) transfer(ctx context.Context, root *os.Root, sel []manifest.Entry, res *Result) error {
	if o.Progress != nil {
		o.Progress.Start(len(sel), res.Selected.Bytes)
		defer o.Progress.Finish()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu sync.Mutex
	dirs := map[string]bool{}
	done := func(e manifest.Entry, outcome int, err error) {
		if err != nil {
			o.Log.Warn("not restored", "path", e.Path, "error", err)
		}
		mu.Lock()
		if _, written := res.record(e, outcome, err); written {
			res.Restored.Files++
			res.Restored.Bytes += e.Size
			dirs[path.Dir(e.Path)] = true
		}
		mu.Unlock()
		if o.Progress != nil {
			o.Progress.Done(e.Size)
		}
	}
	pending := make(chan *pendingFile, smallFactor*o.Concurrency)
	var commits sync.WaitGroup
	for range smallFactor * o.Concurrency {
		commits.Add(1)
		go func() {
			defer commits.Done()
			for p := range pending {
				if ctx.Err() != nil { // the run stopped: drop what is not named yet
					p.discard(root)
					continue
				}
				outcome, err := o.commit(root, p)
				if err != nil && fatal(err) {
					cancel(err)
					continue
				}
				done(p.e, outcome, err)
			}
		}()
	}
	large := make(chan struct{}, o.Concurrency)
	err := parallel.ForEach(ctx, sel, smallFactor*o.Concurrency, func(ctx context.Context, _ int, e manifest.Entry) error {
		if e.Size > smallFile {
			select {
			case large <- struct{}{}:
				defer func() { <-large }()
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		p, outcome, err := o.fetch(ctx, root, e)
		if err != nil && fatal(err) {
			return err // the target or the source is unusable: stop
		}
		if p == nil {
			done(e, outcome, err)
			return nil
		}
		select {
		case pending <- p:
			return nil
		case <-ctx.Done():
			p.discard(root)
			return context.Cause(ctx)
		}
	})
	close(pending)
	commits.Wait()
	if cerr := context.Cause(ctx); err == nil && cerr != nil && cerr != context.Canceled {
		err = cerr // a committer's fatal error
	}
	if err != nil {
		return err
	}
	return syncDirs(root, dirs)
}

// smallFile is the size up to which a file is fetched beside the large
// ones rather than in their turn.
const smallFile = 8 << 20

// smallFactor is how many files are fetched at once, and committed at once,
// per unit of Options.Concurrency; large files stay at Concurrency.
const smallFactor = 4

// syncDirs fsyncs every directory in dirs and its parents up to the
// target itself, deepest first: a name is durable once its directory is.
func syncDirs(root *os.Root, dirs map[string]bool) error {
	all := map[string]bool{}
	for d := range dirs {
		for ; !all[d]; d = path.Dir(d) {
			all[d] = true
			if d == "." {
				break
			}
		}
	}
	order := make([]string, 0, len(all))
	for d := range all {
		order = append(order, d)
	}
	slices.SortFunc(order, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	for _, d := range order {
		f, err := root.Open(d)
		if err != nil {
			return fmt.Errorf("sync directory %s: %w", d, err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("sync directory %s: %w", d, err)
		}
	}
	return nil
}

// fatal errors stop the whole restore: the target or the source is unusable.
func fatal(err error) bool {
	return store.IsFatal(err) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission) || errors.Is(err, context.Canceled)
}

const (
	outcomeRestored = iota
	outcomePresent  // the same file is there
	outcomeExists   // a different file is there, no --force
	outcomeReplace  // a different file is there, --force
)

// existing says what the target already holds at e's path.
func (o *Options) existing(root *os.Root, e manifest.Entry) (int, error) {
	st, err := root.Lstat(e.Path)
	if err != nil {
		return outcomeRestored, nil
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%s exists and is not a regular file", e.Path)
	}
	if same, err := sameContent(root, e.Path, e); err == nil && same {
		return outcomePresent, nil
	}
	if !o.Force {
		return outcomeExists, nil
	}
	return outcomeReplace, nil
}

// ErrUnsafePath marks an entry whose path would leave the target.
var ErrUnsafePath = errors.New("unsafe path refused")

// pendingFile is a file fetched and checked under its temporary name,
// still open, not yet durable or named.
type pendingFile struct {
	e   manifest.Entry
	f   *os.File
	tmp string
}

func (p *pendingFile) discard(root *os.Root) {
	p.f.Close()
	root.Remove(p.tmp)
}

// copyBuf holds the buffers files are copied through: large writes, few
// system calls.
var copyBuf = sync.Pool{New: func() any { b := make([]byte, 512<<10); return &b }}

// fetch downloads e into a temporary file beside its target and checks its
// size and SHA-256 while writing. It returns the file for commit, or no
// file and the outcome (present, exists) or the error.
func (o *Options) fetch(ctx context.Context, root *os.Root, e manifest.Entry) (*pendingFile, int, error) {
	if err := store.CheckKey(e.Path); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrUnsafePath, err)
	}
	rel := e.Path
	if outcome, err := o.existing(root, e); err != nil || outcome == outcomePresent || outcome == outcomeExists {
		return nil, outcome, err
	}
	if dir := path.Dir(rel); dir != "." {
		if err := root.MkdirAll(dir, 0o750); err != nil {
			return nil, 0, pathErr(err)
		}
	}
	tmp := path.Join(path.Dir(rel), tempPrefix+randHex()+".tmp")
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, 0, pathErr(err)
	}
	p := &pendingFile{e: e, f: f, tmp: tmp}
	fail := func(err error) (*pendingFile, int, error) {
		p.discard(root)
		return nil, 0, err
	}
	rc, _, err := o.Store.Get(ctx, e.Key)
	if err != nil {
		return fail(err)
	}
	body, err := codec.Decode(rc, e.Encoding)
	if err != nil {
		rc.Close()
		return fail(err)
	}
	defer body.Close()
	h := sha256.New()
	bp := copyBuf.Get().(*[]byte)
	n, err := copyFull(io.MultiWriter(&writeback{f: f}, h), body, *bp)
	copyBuf.Put(bp)
	if err != nil {
		return fail(fmt.Errorf("restore %s: %w", rel, err))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != e.SHA256 || n != e.Size {
		return fail(fmt.Errorf("%s: content has SHA-256 %s (%d bytes), the manifest records %s (%d bytes); not restored", e.Key, got, n, e.SHA256, e.Size))
	}
	return p, outcomeRestored, nil
}

// copyFull copies r to w through buf, filling buf before each write (a
// network body hands out a few kilobytes per read).
func copyFull(w io.Writer, r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		k := 0
		var err error
		for k < len(buf) && err == nil {
			var m int
			m, err = r.Read(buf[k:])
			k += m
		}
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// writeback writes to f and starts the disk write of every chunk at once
// (startWriteback), so a file is mostly on disk by the time it is fsynced.
type writeback struct {
	f   *os.File
	off int64
}

func (w *writeback) Write(b []byte) (int, error) {
	n, err := w.f.Write(b)
	if n > 0 {
		startWriteback(w.f, w.off, int64(n))
		w.off += int64(n)
	}
	return n, err
}

// commit makes a fetched file durable (fsync) and only then gives it its
// name: a link that fails if the name appeared meanwhile or, with --force,
// a rename over it. On error the temporary file is removed.
func (o *Options) commit(root *os.Root, p *pendingFile) (int, error) {
	rel, tmp, e := p.e.Path, p.tmp, p.e
	root.Chtimes(tmp, e.MTime, e.MTime) // before the fsync, which then covers it
	if err := p.f.Sync(); err != nil {  // durable before it gets its name
		p.discard(root)
		return 0, fmt.Errorf("restore %s: %w", rel, err)
	}
	if err := p.f.Close(); err != nil {
		root.Remove(tmp)
		return 0, fmt.Errorf("restore %s: %w", rel, err)
	}
	var err error
	if o.Force {
		err = root.Rename(tmp, rel)
	} else if err = root.Link(tmp, rel); err == nil { // fails if rel appeared meanwhile
		root.Remove(tmp)
	}
	if err != nil {
		root.Remove(tmp)
		if errors.Is(err, fs.ErrExist) {
			return outcomeExists, nil
		}
		return 0, pathErr(err)
	}
	return outcomeRestored, nil
}

// pathErr marks os.Root's refusals (a path escaping the target) as unsafe.
func pathErr(err error) error {
	// os.Root does not export its sentinel; its message is stable.
	if strings.Contains(err.Error(), "path escapes from parent") {
		return fmt.Errorf("%w: %v", ErrUnsafePath, err)
	}
	return err
}

func sameContent(root *os.Root, rel string, e manifest.Entry) (bool, error) {
	f, err := root.Open(rel)
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() != e.Size {
		return false, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return hex.EncodeToString(h.Sum(nil)) == e.SHA256, nil
}

// tempPrefix names the files a restore writes before it checks them.
const tempPrefix = ".archiver-restore-"

// removeStaleTemps deletes temporary files a killed restore left behind.
func removeStaleTemps(root *os.Root, log *slog.Logger) {
	fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), tempPrefix) && strings.HasSuffix(d.Name(), ".tmp") {
			if root.Remove(p) == nil {
				log.Info("removed a temporary file of an interrupted restore", "path", p)
			}
		}
		return nil
	})
}

func randHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
