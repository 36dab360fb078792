package s3sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/xroad-archiver/archiver/internal/codec"
	"github.com/xroad-archiver/archiver/internal/manifest"
	runoutcome "github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/parallel"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/xroad"
)

// Options configure one sync run.
type Options struct {
	Source      string
	Store       store.Store
	RunID       string
	Compress    string        // auto, zstd or none
	Concurrency int           // files shipped at once (default 4)
	BackupQuiet time.Duration // a backup ships once unmodified this long
	DryRun      bool
	Prune       PruneOptions
	Now         func() time.Time
	Log         *slog.Logger
	Progress    Progress // nil: none
	Host        string   // recorded in the manifest
}

// Progress receives progress events; implementations must be safe for
// concurrent use.
type Progress interface {
	Start(files int, bytes int64)
	Done(bytes int64)
	Finish()
}

// ErrPartial means the run finished but some files failed; they are listed
// in Result.Failed and retried by the next run.
var ErrPartial = runoutcome.Partial("some files were not shipped")

// Count is a number of files and their bytes.
type Count struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

func (c *Count) add(n int64) { c.Files++; c.Bytes += n }

// Failure names a file that was not shipped and why.
type Failure struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// Conflict is an archived name that reappeared with different content. Both
// versions are kept: the new one under a versioned key.
type Conflict struct {
	Path        string `json:"path"`
	ArchivedKey string `json:"archived_key"`
	ArchivedSHA string `json:"archived_sha256"`
	NewKey      string `json:"new_key"`
	NewSHA      string `json:"new_sha256"`
}

// Result is the outcome of a run, for humans, JSON and metrics.
type Result struct {
	RunID       string            `json:"run_id"`
	Source      string            `json:"source"`
	Destination string            `json:"destination"`
	DryRun      bool              `json:"dry_run"`
	Status      runoutcome.Status `json:"status"` // ok, partial, failed
	Error       string            `json:"error,omitempty"`
	Uploaded    Count             `json:"uploaded"`
	StoredBytes int64             `json:"stored_bytes"` // after compression
	Resumed     Count             `json:"resumed"`      // uploads completed from an interrupted run
	Adopted     Count             `json:"adopted"`      // objects found already stored by an interrupted run
	Unchanged   Count             `json:"unchanged"`    // already archived
	Waiting     []string          `json:"waiting,omitempty"`
	Ignored     int               `json:"ignored"`
	Skipped     []Skip            `json:"skipped,omitempty"`
	Conflicts   []Conflict        `json:"conflicts,omitempty"`
	Failed      []Failure         `json:"failed,omitempty"`
	// Planned lists, in a dry run, what would be shipped.
	Planned      []string `json:"planned,omitempty"`
	Pruned       Count    `json:"pruned"`
	PrunePlanned []string `json:"prune_planned,omitempty"`
	Manifest     string   `json:"manifest,omitempty"`
	// Bookkeeping is what reading and writing the record of what is
	// archived cost this run (manifests, checkpoints, listings).
	Bookkeeping manifest.Stats `json:"bookkeeping"`
	// LastCommit is when the newest manifest (this run\'s or an earlier
	// one) was written: the age of the last complete archive state.
	LastCommit     time.Time `json:"last_commit,omitzero"`
	AbortedUploads int       `json:"aborted_uploads"`
	Backlog        Backlog   `json:"backlog"`
	// NewestArchive is the modification time of the newest message-log
	// archive the destination records (zero: none ever shipped): the
	// freshness alarm watches its age, since X-Road archives every 6 h.
	NewestArchive time.Time `json:"newest_archive,omitzero"`
	// SourceEmpty says the source holds no file at all (an unmounted or
	// never-written volume); Warnings say so, and that no archive was ever
	// shipped, instead of a silent success.
	SourceEmpty bool      `json:"source_empty,omitempty"`
	Warnings    []string  `json:"warnings,omitempty"`
	Started     time.Time `json:"started"`
	DurationSec float64   `json:"duration_seconds"`
}

// Backlog is what is still only local after the run.
type Backlog struct {
	Files           int     `json:"files"`
	Bytes           int64   `json:"bytes"`
	OldestAgeSecond float64 `json:"oldest_age_seconds"`
}

func (o *Options) defaults() {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Compress == "" {
		o.Compress = CompressNone
	}
}

// Run performs one sync. It returns ErrPartial when some files failed, and
// another error (with a partially filled Result) when the run as a whole
// could not proceed: destination unreachable, bucket or KMS key unusable,
// manifest unreadable. Nothing is pruned unless the run committed.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	start := o.Now()
	res := &Result{RunID: o.RunID, Source: o.Source, Destination: o.Store.URL(), DryRun: o.DryRun, Started: start, Status: runoutcome.StatusFailed}
	defer func() { res.DurationSec = o.Now().Sub(start).Seconds() }()
	fail := func(err error) (*Result, error) {
		res.Error = err.Error()
		return res, err
	}
	if err := o.Store.Check(ctx); err != nil {
		return fail(err)
	}
	p, err := newPlan(ctx, o, start, res)
	if p.st != nil {
		defer func() { res.Bookkeeping = p.st.Stats }()
	}
	if err != nil {
		return fail(err)
	}
	if o.DryRun {
		if err := p.dryRun(o, res); err != nil {
			return fail(err)
		}
		res.Status = runoutcome.StatusOK
		return res, nil
	}
	newEntries, fatal := transfer(ctx, o, p.toShip, p.ix, res)
	if fatal != nil {
		return fail(fatal)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := p.commit(ctx, o, newEntries, res); err != nil {
		return fail(err)
	}
	if err := p.finish(ctx, o, newEntries, res); err != nil {
		return fail(err)
	}
	if len(res.Failed) > 0 {
		res.Status = runoutcome.StatusPartial
		return res, fmt.Errorf("%d of %d files failed: %w", len(res.Failed), len(p.toShip), ErrPartial)
	}
	res.Status = runoutcome.StatusOK
	return res, nil
}

// plan is what a run found: the state as of the newest manifest, the
// local files and the ones to ship.
type plan struct {
	start  time.Time
	st     *manifest.State
	scan   ScanResult
	ix     *manifest.Index
	toShip []File
}

// newPlan reads the state as of the newest manifest (only the manifests
// since its last checkpoint, and only the checkpoint leaves the local
// files fall in), scans the source and picks the files that are new or
// changed since. The plan's state is set even when it fails later, for
// the run's bookkeeping.
func newPlan(ctx context.Context, o Options, start time.Time, res *Result) (*plan, error) {
	p := &plan{start: start}
	var err error
	if p.st, err = manifest.OpenLatest(ctx, o.Store); err != nil {
		return p, err
	}
	if p.st != nil {
		res.LastCommit = p.st.Head.Created
	}
	if p.scan, err = Scan(o.Source, start, o.BackupQuiet); err != nil {
		return p, err
	}
	local := make([]string, 0, len(p.scan.Files)+len(p.scan.Waiting))
	for _, f := range append(append([]File(nil), p.scan.Files...), p.scan.Waiting...) {
		local = append(local, f.Rel)
	}
	if p.ix, err = p.st.Index(ctx, local); err != nil {
		return p, err
	}
	res.Ignored, res.Skipped = p.scan.Ignored, p.scan.Skipped
	for _, w := range p.scan.Waiting {
		res.Waiting = append(res.Waiting, w.Rel)
	}
	for _, f := range p.scan.Files {
		if e, ok := p.ix.Latest(f.Rel); ok && e.Size == f.Size && e.MTime.Equal(f.MTime) {
			res.Unchanged.add(f.Size)
			continue
		}
		p.toShip = append(p.toShip, f)
	}
	o.Log.Info("plan", "run_id", o.RunID, "to_ship", len(p.toShip), "unchanged", res.Unchanged.Files, "waiting", len(res.Waiting), "ignored", res.Ignored)
	return p, nil
}

// dryRun lists what a run would ship and prune.
func (p *plan) dryRun(o Options, res *Result) error {
	for _, f := range p.toShip {
		res.Planned = append(res.Planned, f.Rel)
	}
	if !o.Prune.enabled() {
		return nil
	}
	cands, err := pruneCandidates(o, p.scan.Files, p.ix, p.start)
	if err != nil {
		return err
	}
	for _, c := range cands {
		res.PrunePlanned = append(res.PrunePlanned, c.file.Rel)
	}
	return nil
}

// commit records the files this run shipped in a new manifest and adds
// them to the index. A manifest committed whose tip could not be moved is
// found by the next run's listing: a warning, not a failure.
func (p *plan) commit(ctx context.Context, o Options, newEntries []manifest.Entry, res *Result) error {
	if len(newEntries) == 0 {
		return nil
	}
	m, err := newManifest(ctx, o, p.st, newEntries, p.scan.Files)
	if err != nil {
		return err
	}
	ref, err := manifest.CommitRun(ctx, o.Store, p.st, m, &res.Bookkeeping)
	if errors.Is(err, manifest.ErrTip) {
		o.Log.Warn("manifest committed; the next run finds it by listing", "error", err)
	} else if err != nil {
		// Nothing of this run is recorded: all of it is still backlog.
		res.Backlog = backlog(p.scan, p.ix, p.start)
		return err
	}
	res.Manifest, res.LastCommit = ref.Key, m.Created
	for _, e := range newEntries {
		p.ix.Add(e)
	}
	return nil
}

// finish aborts interrupted uploads once every file is archived, prunes
// proven local files, and reports the backlog and freshness.
func (p *plan) finish(ctx context.Context, o Options, newEntries []manifest.Entry, res *Result) error {
	if len(res.Failed) == 0 {
		// Every file is archived: no interrupted upload below the prefix is
		// needed any more.
		n, err := o.Store.AbortIncomplete(ctx, "", nil)
		if err != nil {
			o.Log.Warn("abort leftover uploads", "error", err)
		}
		res.AbortedUploads = n
	}
	if o.Prune.enabled() {
		if err := prune(ctx, o, p.scan.Files, p.ix, res); err != nil {
			return err
		}
	}
	res.Backlog = backlog(p.scan, p.ix, p.start)
	res.freshness(o, p.scan, p.st.NewestArchive(), newEntries)
	return nil
}

// freshness records the newest shipped archive and warns about a source
// that holds nothing, or a destination that never received an archive.
func (r *Result) freshness(o Options, scan ScanResult, committed time.Time, added []manifest.Entry) {
	r.NewestArchive = committed
	for _, e := range added {
		if (e.Kind == xroad.KindArchive.String() || e.Kind == xroad.KindEncryptedArchive.String()) && e.MTime.After(r.NewestArchive) {
			r.NewestArchive = e.MTime
		}
	}
	if len(scan.Files)+len(scan.Waiting)+len(scan.Skipped)+scan.Ignored == 0 {
		r.SourceEmpty = true
		r.Warnings = append(r.Warnings, fmt.Sprintf("source %s is empty: is X-Road's archive volume mounted there, and does X-Road write to it?", o.Source))
	}
	if r.NewestArchive.IsZero() {
		r.Warnings = append(r.Warnings, "no message-log archive has been shipped yet")
	}
	for _, w := range r.Warnings {
		o.Log.Warn(w, "run_id", o.RunID)
	}
}

// newManifest builds the manifest of this run's new entries on top of st:
// the chain starts found among the groups' earliest archives (the
// recorded ones, or, on a format 1 state, every archive) and this run's.
func newManifest(ctx context.Context, o Options, st *manifest.State, newEntries []manifest.Entry, local []File) (*manifest.Manifest, error) {
	m := &manifest.Manifest{Version: manifest.Version, Seq: 1, RunID: o.RunID, Created: o.Now().UTC(), Source: o.Source, Host: o.Host,
		Entries: newEntries, StartsRecorded: true}
	if st != nil {
		m.Seq, m.Previous = st.Head.Seq+1, st.Ref
	}
	earliest, ok := st.Earliest()
	if !ok {
		// A format 1 state records no earliest archives: derive them once.
		var archives []manifest.Entry
		err := st.Each(ctx, func(e manifest.Entry) error {
			if e.Kind == xroad.KindArchive.String() || e.Kind == xroad.KindEncryptedArchive.String() {
				archives = append(archives, e)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		earliest = earliestOf(archives)
	}
	cands := append(append([]manifest.Entry(nil), earliest...), newEntries...)
	m.Earliest = earliestOf(cands)
	known := st.ChainStarts()
	m.ChainStarts = append([]manifest.ChainStart(nil), known...)
	for _, c := range chainStarts(known, cands, local, o.RunID, m.Created)[len(known):] {
		// Only the earliest archives were looked at: the predecessor may
		// still be recorded further back in the history.
		ix, err := st.Index(ctx, []string{c.PrevArchive})
		if err != nil {
			return nil, err
		}
		if _, ok := ix.Latest(c.PrevArchive); ok {
			continue
		}
		m.ChainStarts = append(m.ChainStarts, c)
		o.Log.Info("evidence chain starts mid-history: its predecessor was never archived here", "group", c.Group, "archive", c.Archive, "prev_archive", c.PrevArchive)
	}
	return m, nil
}

// backlog counts files (including waiting backups) not archived as they are.
func backlog(scan ScanResult, ix *manifest.Index, now time.Time) Backlog {
	var b Backlog
	for _, f := range append(append([]File(nil), scan.Files...), scan.Waiting...) {
		if e, ok := ix.Latest(f.Rel); ok && e.Size == f.Size && e.MTime.Equal(f.MTime) {
			continue
		}
		b.Files++
		b.Bytes += f.Size
		b.OldestAgeSecond = max(b.OldestAgeSecond, now.Sub(f.MTime).Seconds())
	}
	return b
}

// transfer ships files with o.Concurrency workers. It returns the new
// manifest entries in scan order, or a fatal error that stopped the run.
func transfer(ctx context.Context, o Options, toShip []File, ix *manifest.Index, res *Result) ([]manifest.Entry, error) {
	if o.Progress != nil {
		var total int64
		for _, f := range toShip {
			total += f.Size
		}
		o.Progress.Start(len(toShip), total)
		defer o.Progress.Finish()
	}
	type result struct {
		entry   manifest.Entry
		outcome outcome
		err     error
	}
	results := make([]result, len(toShip))
	taken, err := listTaken(ctx, o.Store, toShip)
	switch {
	case err == nil:
	case store.IsFatal(err) || ctx.Err() != nil:
		return nil, err
	default: // each key is looked at instead, which reports a real problem
		o.Log.Info("looking at each key before writing it", "reason", err)
	}
	err = parallel.ForEach(ctx, toShip, o.Concurrency, func(ctx context.Context, i int, f File) error {
		e, oc, err := ship(ctx, o, f, ix, taken)
		results[i] = result{e, oc, err}
		if o.Progress != nil {
			o.Progress.Done(f.Size)
		}
		if err != nil && store.IsFatal(err) {
			return err
		}
		return nil
	})
	if err != nil && store.IsFatal(err) {
		return nil, err
	}
	var out []manifest.Entry
	for i, r := range results {
		f := toShip[i]
		switch {
		case r.err != nil:
			res.Failed = append(res.Failed, Failure{Path: f.Rel, Error: r.err.Error()})
			o.Log.Warn("file not shipped", "path", f.Rel, "error", r.err)
		case r.outcome.kind == "":
			// Not reached: the run was cancelled before this file started.
			res.Failed = append(res.Failed, Failure{Path: f.Rel, Error: "not started: run interrupted"})
		default:
			out = append(out, r.entry)
			switch r.outcome.kind {
			case outcomeUploaded:
				res.Uploaded.add(r.entry.Size)
				res.StoredBytes += r.entry.StoredSize
				if r.outcome.resumed {
					res.Resumed.add(r.entry.Size)
				}
			case outcomeAdopted:
				res.Adopted.add(r.entry.Size)
			case outcomeRelinked:
				res.Unchanged.add(r.entry.Size)
			}
			if r.outcome.conflict != nil {
				res.Conflicts = append(res.Conflicts, *r.outcome.conflict)
				o.Log.Warn("archived name reappeared with different content; both versions kept", "path", f.Rel,
					"archived_key", r.outcome.conflict.ArchivedKey, "new_key", r.outcome.conflict.NewKey)
			}
			o.Log.Debug("shipped", "path", f.Rel, "key", r.entry.Key, "outcome", r.outcome.kind)
		}
	}
	return out, nil
}

const (
	outcomeUploaded = "uploaded"
	outcomeAdopted  = "adopted"  // already stored by an interrupted run
	outcomeRelinked = "relinked" // same content already archived (mtime changed)
)

type outcome struct {
	kind     string
	resumed  bool
	conflict *Conflict
}

// ship archives one file.
func ship(ctx context.Context, o Options, f File, ix *manifest.Index, taken takenKeys) (manifest.Entry, outcome, error) {
	if err := ctx.Err(); err != nil {
		return manifest.Entry{}, outcome{}, err
	}
	fh, st, err := openSource(filepath.Join(o.Source, filepath.FromSlash(f.Rel)))
	if err != nil {
		return manifest.Entry{}, outcome{}, fmt.Errorf("open: %w", err)
	}
	defer fh.Close()
	d, err := hashFile(ctx, fh, st.Size())
	if err != nil {
		return manifest.Entry{}, outcome{}, fmt.Errorf("read: %w", err)
	}
	if err := unchanged(fh, st); err != nil {
		return manifest.Entry{}, outcome{}, err
	}
	entry := manifest.Entry{Path: f.Rel, Kind: f.Kind.String(), Size: st.Size(), MTime: st.ModTime().UTC(), SHA256: d.SHA256, RunID: o.RunID}
	if prev, ok := ix.WithSHA(f.Rel, d.SHA256); ok {
		// Same bytes already archived (the file was touched): record the new
		// mtime against the existing object, upload nothing.
		entry.Key, entry.Encoding, entry.StoredSize, entry.KMSKeyID, entry.Chain = prev.Key, prev.Encoding, prev.StoredSize, prev.KMSKeyID, prev.Chain
		return entry, outcome{kind: outcomeRelinked}, nil
	}
	if f.Kind == xroad.KindArchive {
		entry.Chain = chainOf(fh, st.Size())
	}
	compress := shouldCompress(o.Compress, f.Kind, f.Rel, fh, st.Size())
	suffix := ""
	if compress {
		entry.Encoding, suffix = codec.Zstd, codec.ZstdSuffix
	}
	key := f.Rel + suffix
	var conflict *Conflict
	if prev, ok := ix.Latest(f.Rel); ok {
		// An archived name with new content: keep both.
		k := versionedKey(f.Rel, d.SHA256) + suffix
		conflict = &Conflict{Path: f.Rel, ArchivedKey: prev.Key, ArchivedSHA: prev.SHA256, NewKey: k, NewSHA: d.SHA256}
		key = k
	}
	meta := store.Meta{SHA256: d.SHA256, Size: st.Size(), MTime: st.ModTime(), Encoding: entry.Encoding, Path: f.Rel, RunID: o.RunID}
	for attempt := 0; attempt < 2; attempt++ {
		h, found, err := storedByInterruptedRun(ctx, o.Store, ix, taken, key)
		if err != nil {
			return entry, outcome{}, err
		}
		if !found {
			obj, err := put(ctx, o.Store, key, fh, st, d, compress, meta)
			if err == nil {
				entry.Key, entry.StoredSize, entry.KMSKeyID = key, obj.Size, obj.KMSKeyID
				return entry, outcome{kind: outcomeUploaded, resumed: obj.Resumed, conflict: conflict}, nil
			}
			if !errors.Is(err, store.ErrExists) {
				return entry, outcome{}, err
			}
			// The key was taken after all (another run, or this PUT stored
			// it and its answer was lost).
			if h, err = o.Store.Head(ctx, key); err != nil {
				return entry, outcome{}, err
			}
		}
		// The key is taken: by this very content (an interrupted run that
		// uploaded but never committed its manifest), or by other content.
		if h.Meta.SHA256 == d.SHA256 && h.Meta.Size == st.Size() && h.Meta.Encoding == entry.Encoding && (entry.Encoding != "" || h.Size == st.Size()) {
			if err := o.Store.CheckEncryption(h); err != nil {
				return entry, outcome{}, fmt.Errorf("adopt %s: %w", key, err)
			}
			entry.Key, entry.StoredSize, entry.KMSKeyID = key, h.Size, h.KMSKeyID
			kind := outcomeAdopted
			if h.Meta.RunID == o.RunID {
				kind = outcomeUploaded // this run's own PUT, whose answer was lost
			}
			return entry, outcome{kind: kind, conflict: conflict}, nil
		}
		k := versionedKey(f.Rel, d.SHA256) + suffix
		conflict = &Conflict{Path: f.Rel, ArchivedKey: key, ArchivedSHA: h.Meta.SHA256, NewKey: k, NewSHA: d.SHA256}
		key = k
	}
	return entry, outcome{}, fmt.Errorf("no free key for %s", f.Rel)
}

// storedByInterruptedRun looks at key before it is written, when no
// committed manifest records it: a run killed after its upload and before
// its manifest left the object there, and adopting it must not depend on
// how a server reports a failed conditional write. Keys a manifest records
// are not looked at, nor keys the run's listing did not find (listTaken),
// so the requests a run makes stay proportional to the files it ships.
func storedByInterruptedRun(ctx context.Context, s store.Store, ix *manifest.Index, taken takenKeys, key string) (store.Object, bool, error) {
	if _, recorded := ix.ByKey(key); recorded || !taken.has(key) {
		return store.Object{}, false, nil
	}
	h, err := s.Head(ctx, key)
	switch {
	case err == nil:
		return h, true, nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrAccessDenied):
		// S3 answers a HEAD of a missing key with 403 when the role may
		// list only the prefix (deploy/iam-policy.json): nothing to adopt
		// that HEAD can tell; the conditional PUT decides.
		return store.Object{}, false, nil
	}
	return store.Object{}, false, err
}

// chainOf reads the linkinginfo of a plain archive so the manifest can
// record its place in the evidence chain. A malformed archive is still
// shipped (it is evidence); verify reports it.
func chainOf(r io.ReaderAt, size int64) *manifest.Chain {
	li, err := xroad.ReadLinkingInfo(r, size)
	if err != nil {
		return nil
	}
	return &manifest.Chain{Algorithm: li.Algorithm, PrevArchive: li.PrevArchive, PrevDigest: li.PrevDigest, LastDigest: li.LastDigest(), Containers: len(li.Entries)}
}

// versionedKey names a second version of path by its content.
func versionedKey(path, sha string) string { return path + "~" + sha[:16] }

func put(ctx context.Context, s store.Store, key string, fh *os.File, st os.FileInfo, d digest, compress bool, meta store.Meta) (store.Object, error) {
	p := store.Payload{BeforeCommit: func() error { return unchanged(fh, st) }, ResumeAfter: st.ModTime()}
	if compress {
		rc := compressStream(fh, st.Size(), d.CRC32C)
		defer rc.Close()
		p.Stream, p.Size = rc, codec.MaxCompressed(st.Size())
	} else {
		p.At, p.Size, p.CRC32C, p.SHA256 = fh, st.Size(), d.CRC32C, d.SHA256
	}
	return s.Put(ctx, key, p, meta)
}
