package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/xroad-archiver/archiver/internal/codec"
	"github.com/xroad-archiver/archiver/internal/gpg"
	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/parallel"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/xroad"
)

// Options configure a verification.
type Options struct {
	Store store.Reader
	// AsOf verifies the state recorded by that run's manifest ("" latest).
	AsOf string
	// SamplePercent of the objects are re-read (default 100). The sample
	// rotates daily (UTC), so ceil(100/SamplePercent) days cover everything.
	SamplePercent float64
	// Since re-reads only entries whose source mtime is not before it.
	Since time.Time
	// MaxBytes caps the bytes re-read (0: no cap); the rest is checked for
	// presence and size only.
	MaxBytes int64
	// RequireEncryption fails objects that report no server-side encryption.
	RequireEncryption bool
	Concurrency       int
	TempDir           string // where archives are spooled (unlinked, mode 0600) for zip checks
	// Keys decrypt .zip.gpg archives and hold the accepted signing keys;
	// nil checks them for integrity only.
	Keys     *gpg.Keys
	Now      func() time.Time
	Log      *slog.Logger
	Progress Progress
}

// Progress receives progress events (safe for concurrent use).
type Progress interface {
	Start(files int, bytes int64)
	Done(bytes int64)
	Finish()
}

// Finding kinds.
const (
	KindManifest   = "manifest"    // the manifest chain is broken
	KindMissing    = "missing"     // a recorded object is not there
	KindSize       = "size"        // stored size differs from the record
	KindContent    = "content"     // re-read content has another SHA-256
	KindEncryption = "encryption"  // no server-side encryption reported
	KindEvidence   = "evidence"    // an archive fails X-Road's checks
	KindChain      = "chain-break" // a group's chain does not connect
	KindUnrecorded = "unrecorded"  // an object no manifest records (warning)
)

// Finding is one problem.
type Finding struct {
	Severity string `json:"severity"` // error or warning
	Kind     string `json:"kind"`
	Key      string `json:"key,omitempty"`
	Path     string `json:"path,omitempty"`
	Detail   string `json:"detail"`
}

// Count is files and bytes.
type Count struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// Report is the outcome, for humans and JSON.
type Report struct {
	Destination string `json:"destination"`
	Manifest    string `json:"manifest"`
	Manifests   int    `json:"manifests_in_chain"`
	Entries     int    `json:"entries"`
	Present     int    `json:"present"`
	Reread      Count  `json:"reread"`
	NotReread   int    `json:"not_reread"`
	Archives    int    `json:"archives_checked"`
	Groups      int    `json:"groups"`
	// Encrypted .zip.gpg archives re-read; Decrypted of them were
	// decrypted, signature-checked and chain-checked with the keys given;
	// IntegrityOnly were checked without keys: SHA-256 and OpenPGP form
	// only, not their content or signer.
	Encrypted     int `json:"encrypted_archives"`
	Decrypted     int `json:"encrypted_decrypted"`
	IntegrityOnly int `json:"encrypted_integrity_only"`
	// Chains lists where each group's evidence chain begins: the first
	// archive, a restart after a message-log database reset, or a
	// mid-history start (the predecessor was never archived here).
	Chains      []ChainStart   `json:"chains,omitempty"`
	Findings    []Finding      `json:"findings"`
	Status      outcome.Status `json:"status"` // verified, failed, error
	Error       string         `json:"error,omitempty"`
	Started     time.Time      `json:"started"`
	DurationSec float64        `json:"duration_seconds"`
	MBPerSec    float64        `json:"reread_mb_per_second"`
}

// ChainStart is one chain start, and the sync run that recorded it when
// it is a recorded mid-history start ("" when inferred).
type ChainStart struct {
	xroad.Start
	RecordedBy string `json:"recorded_by_run,omitempty"`
}

// ErrFailed means verification found errors (listed in the report).
var ErrFailed = outcome.VerificationFailed("verification failed")

// ErrNoManifest means the destination holds no manifest to verify against.
var ErrNoManifest = errors.New("no manifest at the destination: nothing has been archived there")

func (o *Options) defaults() {
	if o.SamplePercent <= 0 || o.SamplePercent > 100 {
		o.SamplePercent = 100
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Run verifies the destination. It returns ErrFailed when it found errors,
// and another error when it could not verify (unreachable, access, KMS).
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	start := o.Now()
	rep := &Report{Destination: o.Store.URL(), Started: start, Status: outcome.StatusError, Findings: []Finding{}}
	defer func() {
		rep.DurationSec = o.Now().Sub(start).Seconds()
		if rep.DurationSec > 0 {
			rep.MBPerSec = float64(rep.Reread.Bytes) / 1e6 / rep.DurationSec
		}
	}()
	fail := func(err error) (*Report, error) {
		rep.Error = err.Error()
		return rep, err
	}
	// A missing bucket or directory is that, not "nothing archived".
	if err := o.Store.Check(ctx); err != nil {
		return fail(err)
	}
	m, ref, n, findings, err := manifestChain(ctx, o.Store, o.AsOf, o.Now())
	if errors.Is(err, manifest.ErrInvalid) {
		// The record itself is damaged or tampered with: that is a finding
		// about the destination, not a failure to reach it.
		rep.Findings = append(rep.Findings, Finding{Severity: "error", Kind: KindManifest, Detail: err.Error()})
		rep.Status, rep.Error = outcome.StatusFailed, err.Error()
		return rep, fmt.Errorf("the manifest to verify against is unreadable: %w", ErrFailed)
	}
	if err != nil {
		return fail(err)
	}
	rep.Manifest, rep.Manifests, rep.Entries = ref.Key, n, len(m.Entries)
	rep.Findings = append(rep.Findings, findings...)

	listed := map[string]int64{}
	err = o.Store.List(ctx, "", func(obj store.Object) error {
		if !strings.HasPrefix(obj.Key, ".archiver/") {
			listed[obj.Key] = obj.Size
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	recorded := map[string]bool{}
	var reread []manifest.Entry
	var budget int64
	for _, e := range m.Entries {
		recorded[e.Key] = true
		size, ok := listed[e.Key]
		switch {
		case !ok:
			rep.add("error", KindMissing, e, "recorded in the manifest but not in the destination")
			continue
		case size != e.StoredSize:
			// Still re-read it below: the content checks say what changed.
			rep.add("error", KindSize, e, fmt.Sprintf("holds %d bytes, the manifest records %d", size, e.StoredSize))
		}
		rep.Present++
		if !o.selected(e) || (o.MaxBytes > 0 && budget+e.StoredSize > o.MaxBytes) {
			rep.NotReread++
			continue
		}
		budget += e.StoredSize
		reread = append(reread, e)
	}
	if o.AsOf == "" {
		var extra []string
		for k := range listed {
			if !recorded[k] {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		for _, k := range extra {
			rep.Findings = append(rep.Findings, Finding{Severity: "warning", Kind: KindUnrecorded, Key: k,
				Detail: "present but recorded in no manifest (an interrupted run's upload is adopted by the next sync)"})
		}
	}
	links, err := o.reread(ctx, reread, rep)
	if err != nil {
		return fail(err)
	}
	o.continuity(m, listed, links, rep)
	rep.Status = outcome.StatusVerified
	for _, f := range rep.Findings {
		if f.Severity == "error" {
			rep.Status = outcome.StatusFailed
			return rep, fmt.Errorf("%d problems found: %w", rep.errors(), ErrFailed)
		}
	}
	return rep, nil
}

func (r *Report) add(sev, kind string, e manifest.Entry, detail string) {
	r.Findings = append(r.Findings, Finding{Severity: sev, Kind: kind, Key: e.Key, Path: e.Path, Detail: detail})
}

// Problems counts the findings of severity error.
func (r *Report) Problems() int { return r.errors() }

func (r *Report) errors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == "error" {
			n++
		}
	}
	return n
}

// selected applies the rotating sample and --since.
func (o *Options) selected(e manifest.Entry) bool {
	if !o.Since.IsZero() && e.MTime.Before(o.Since) {
		return false
	}
	if o.SamplePercent >= 100 {
		return true
	}
	windows := int(100/o.SamplePercent + 0.999999)
	h := fnv.New32a()
	io.WriteString(h, e.Key)
	day := int(o.Now().UTC().Unix() / 86400)
	return int(h.Sum32()%uint32(windows)) == day%windows
}

// manifestChain loads the state to verify and walks the manifests back to
// the first, checking each one's SHA-256 against the pin its successor
// holds, that a format 1 manifest records everything its predecessor
// does, and that every checkpoint holds exactly its predecessor's state
// plus its run's entries.
func manifestChain(ctx context.Context, s store.Reader, asOf string, now time.Time) (*manifest.Manifest, *manifest.Ref, int, []Finding, error) {
	var key string
	if asOf != "" {
		k, err := manifest.Find(ctx, s, asOf)
		if err != nil {
			return nil, nil, 0, nil, err
		}
		key = k
	} else {
		st, err := manifest.OpenLatest(ctx, s)
		if err != nil {
			return nil, nil, 0, nil, err
		}
		if st == nil {
			return nil, nil, 0, nil, ErrNoManifest
		}
		key = st.Ref.Key
	}
	head, ref, err := manifest.Load(ctx, s, key)
	if err != nil {
		return nil, nil, 0, nil, err
	}
	st, err := manifest.Open(ctx, s, key)
	if err != nil {
		return nil, nil, 0, nil, err
	}
	m, err := st.Manifest(ctx)
	if err != nil {
		return nil, nil, 0, nil, err
	}
	var findings []Finding
	checkpoint := func(cur *manifest.Manifest, key string) error {
		err := manifest.CheckCheckpoint(ctx, s, cur)
		if errors.Is(err, manifest.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
			findings = append(findings, Finding{Severity: "error", Kind: KindManifest, Key: key,
				Detail: fmt.Sprintf("the checkpoint of run %s's manifest is not its state: %v", cur.RunID, err)})
			return nil
		}
		return err
	}
	if err := checkpoint(head, ref.Key); err != nil {
		return nil, nil, 0, nil, err
	}
	onChain := map[string]bool{ref.Key: true}
	n := 1
	for cur := head; cur.Previous != nil; n++ {
		prev, pref, err := manifest.Load(ctx, s, cur.Previous.Key)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, manifest.ErrInvalid) {
				findings = append(findings, Finding{Severity: "error", Kind: KindManifest, Key: cur.Previous.Key,
					Detail: fmt.Sprintf("manifest of run %s names this predecessor, which is unreadable: %v", cur.RunID, err)})
				break
			}
			return nil, nil, 0, nil, err
		}
		if pref.SHA256 != cur.Previous.SHA256 {
			findings = append(findings, Finding{Severity: "error", Kind: KindManifest, Key: pref.Key,
				Detail: fmt.Sprintf("SHA-256 %s, but the manifest of run %s pins %s", pref.SHA256, cur.RunID, cur.Previous.SHA256)})
		}
		if cur.Version == manifest.VersionFull {
			if lost := dropped(prev, cur); len(lost) > 0 {
				findings = append(findings, Finding{Severity: "error", Kind: KindManifest, Key: cur.Previous.Key, Path: lost[0],
					Detail: fmt.Sprintf("the manifest of run %s leaves out %d entries this predecessor records (first: %s); every manifest holds all earlier ones",
						cur.RunID, len(lost), lost[0])})
			}
		}
		if err := checkpoint(prev, pref.Key); err != nil {
			return nil, nil, 0, nil, err
		}
		onChain[pref.Key] = true
		cur = prev
	}
	if asOf == "" && len(findings) == 0 { // a broken chain is reported already; everything older would be "off" it
		more, err := offChain(ctx, s, m, onChain, now)
		if err != nil {
			return nil, nil, 0, nil, err
		}
		findings = append(findings, more...)
	}
	return m, ref, n, findings, nil
}

// dropped returns the paths of entries prev records that cur does not (by
// key and SHA-256).
func dropped(prev, cur *manifest.Manifest) []string {
	has := make(map[[2]string]bool, len(cur.Entries))
	for _, e := range cur.Entries {
		has[[2]string{e.Key, e.SHA256}] = true
	}
	var lost []string
	for _, e := range prev.Entries {
		if !has[[2]string{e.Key, e.SHA256}] {
			lost = append(lost, e.Path)
		}
	}
	return lost
}

// offChain reports manifests the latest one does not lead back to (a fork:
// two writers at once) and sequence numbers claimed without a manifest (a
// run that died while committing, or a deleted manifest). A sync that
// commits while verify runs is not a finding: manifests after the one
// verified, and claims younger than manifest.ClaimTimeout after it, are
// left alone.
func offChain(ctx context.Context, s store.Reader, latest *manifest.Manifest, onChain map[string]bool, now time.Time) ([]Finding, error) {
	var findings []Finding
	keys, err := manifest.List(ctx, s)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if seq, ok := manifest.SeqOf(k); ok && seq > latest.Seq {
			continue // committed after the listing verify started from
		}
		if !onChain[k] {
			findings = append(findings, Finding{Severity: "warning", Kind: KindManifest, Key: k,
				Detail: "a manifest the latest one does not lead back to: two archivers wrote to this destination at once"})
		}
	}
	claims, err := manifest.ClaimsFor(ctx, s, keys, 1)
	if err != nil {
		return nil, err
	}
	for _, c := range claims {
		if c.Manifest != "" || c.Seq > latest.Seq && now.Sub(c.Claimed) < manifest.ClaimTimeout {
			continue // committed, or a sync committing right now
		}
		detail := fmt.Sprintf("sequence number %d was claimed by run %s at %s but has no manifest: the run died while committing (its uploads are adopted later)",
			c.Seq, c.RunID, c.Claimed.UTC().Format(time.RFC3339))
		if c.Seq > latest.Seq {
			detail += fmt.Sprintf(", or the newest manifest was deleted; the next sync skips the number once the claim is %s old", manifest.ClaimTimeout)
		}
		findings = append(findings, Finding{Severity: "warning", Kind: KindManifest, Key: c.Key, Detail: detail})
	}
	return findings, nil
}

// reread streams the selected objects back, checks their SHA-256 and, for
// plain archives, X-Road's evidence rules. It returns the chain links read
// from content, by archive name.
func (o *Options) reread(ctx context.Context, entries []manifest.Entry, rep *Report) (map[string]xroad.Link, error) {
	if o.Progress != nil {
		var total int64
		for _, e := range entries {
			total += e.Size
		}
		o.Progress.Start(len(entries), total)
		defer o.Progress.Finish()
	}
	var mu sync.Mutex
	links := map[string]xroad.Link{}
	err := parallel.ForEach(ctx, entries, o.Concurrency, func(ctx context.Context, _ int, e manifest.Entry) error {
		findings, link, err := o.check(ctx, e)
		if err != nil {
			return err // the destination, not the object: stop
		}
		mu.Lock()
		rep.Reread.Files++
		rep.Reread.Bytes += e.Size
		rep.Findings = append(rep.Findings, findings...)
		if link != nil {
			links[link.Name] = *link
			rep.Archives++
		}
		if e.Kind == xroad.KindEncryptedArchive.String() {
			rep.Encrypted++
			switch {
			case o.Keys == nil:
				rep.IntegrityOnly++
			case link != nil:
				rep.Decrypted++
			}
		}
		mu.Unlock()
		if o.Progress != nil {
			o.Progress.Done(e.Size)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool { return rep.Findings[i].Key < rep.Findings[j].Key })
	return links, nil
}

// check re-reads one object. Destination-wide problems (access, KMS) are
// returned as errors; problems with the object are findings.
func (o *Options) check(ctx context.Context, e manifest.Entry) ([]Finding, *xroad.Link, error) {
	rc, obj, err := o.Store.Get(ctx, e.Key)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return []Finding{{Severity: "error", Kind: KindMissing, Key: e.Key, Path: e.Path, Detail: "disappeared while verifying"}}, nil, nil
		}
		return nil, nil, err
	}
	var findings []Finding
	if o.RequireEncryption && obj.Encryption == "" {
		findings = append(findings, Finding{Severity: "error", Kind: KindEncryption, Key: e.Key, Path: e.Path, Detail: "the destination reports no server-side encryption"})
	}
	body, err := codec.Decode(rc, e.Encoding)
	if err != nil {
		return append(findings, Finding{Severity: "error", Kind: KindContent, Key: e.Key, Path: e.Path, Detail: err.Error()}), nil, nil
	}
	defer body.Close()
	plain := e.Kind == xroad.KindArchive.String()
	encrypted := e.Kind == xroad.KindEncryptedArchive.String()
	var spool *os.File
	h := sha256.New()
	w := io.Writer(h)
	if plain || encrypted && o.Keys != nil {
		if spool, err = newSpool(o.TempDir); err != nil {
			return nil, nil, err
		}
		defer spool.Close()
	}
	var n int64
	var msgErr error // the encrypted archive fails as evidence
	if encrypted {
		// Hash what is stored while reading the OpenPGP message from it;
		// the plaintext (with keys) goes to the unlinked spool only.
		cr := &countReader{r: io.TeeReader(body, h)}
		if o.Keys != nil {
			_, msgErr = o.Keys.Decrypt(cr, spoolWriter{spool})
		} else {
			msgErr = gpg.CheckFraming(cr)
		}
		if msgErr != nil && !errors.Is(msgErr, gpg.ErrMessage) {
			err = msgErr // reading the object or writing the spool failed
		} else {
			_, err = io.Copy(io.Discard, cr) // the rest still counts for the SHA-256
		}
		n = cr.n
	} else {
		if plain {
			w = io.MultiWriter(h, spoolWriter{spool})
		}
		n, err = io.Copy(w, body)
	}
	if err != nil {
		if store.IsFatal(err) || ctx.Err() != nil || errors.Is(err, errSpool) {
			return nil, nil, err
		}
		return append(findings, Finding{Severity: "error", Kind: KindContent, Key: e.Key, Path: e.Path, Detail: "read: " + err.Error()}), nil, nil
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != e.SHA256 || n != e.Size {
		findings = append(findings, Finding{Severity: "error", Kind: KindContent, Key: e.Key, Path: e.Path,
			Detail: fmt.Sprintf("content has SHA-256 %s (%d bytes); the manifest records %s (%d bytes)", got, n, e.SHA256, e.Size)})
		// An archive is still checked as evidence: what is stored is what
		// an auditor would get.
	}
	if msgErr != nil {
		return append(findings, Finding{Severity: "error", Kind: KindEvidence, Key: e.Key, Path: e.Path, Detail: msgErr.Error()}), nil, nil
	}
	if !plain && (!encrypted || o.Keys == nil) {
		return findings, nil, nil
	}
	if encrypted {
		if n, err = spool.Seek(0, io.SeekCurrent); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", errSpool, err)
		}
	}
	name := path.Base(e.Path)
	ac, err := xroad.CheckArchive(spool, n, name)
	if encrypted && err != nil {
		err = fmt.Errorf("decrypted and signed by an accepted key, but: %w", err)
	}
	if err != nil {
		findings = append(findings, Finding{Severity: "error", Kind: KindEvidence, Key: e.Key, Path: e.Path, Detail: err.Error()})
	}
	if ac.Containers == 0 {
		return findings, nil, nil // no trustworthy chain in it
	}
	// The chain inside recomputed (only the name may disagree): use it
	// for continuity, since it is what the destination holds.
	l := xroad.LinkOf(name, ac.Link)
	link := &l
	if c := e.Chain; c != nil && (c.LastDigest != link.LastDigest || c.PrevArchive != link.PrevArchive || c.PrevDigest != link.PrevDigest) {
		findings = append(findings, Finding{Severity: "error", Kind: KindEvidence, Key: e.Key, Path: e.Path,
			Detail: "linkinginfo differs from what was recorded when the archive was shipped"})
	}
	return findings, link, nil
}

// errSpool marks a failure of the local spool (a full disk): verify
// cannot check, which says nothing about the archive.
var errSpool = errors.New("spool archive for checking")

// newSpool creates the private file an archive is checked in (mode 0600)
// and unlinks it at once: it vanishes when closed, or when the process
// dies, so a decrypted archive never outlives its check on disk.
func newSpool(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "archiver-verify-*")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSpool, err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %v", errSpool, err)
	}
	return f, nil
}

type spoolWriter struct{ f *os.File }

func (s spoolWriter) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	if err != nil {
		err = fmt.Errorf("%w: %v", errSpool, err)
	}
	return n, err
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// continuity checks each group's chain over the archives present: links
// read from content where re-read, from the manifest otherwise. A group's
// earliest archived archive whose predecessor was never archived here
// starts its chain mid-history (recorded by sync when it first saw it, or,
// for manifests from before that record and for encrypted archives whose
// chain sync could not read, inferred by the same rule); every other
// absent predecessor is a break.
func (o *Options) continuity(m *manifest.Manifest, listed map[string]int64, content map[string]xroad.Link, rep *Report) {
	latest := map[string]manifest.Entry{} // by archive name: the newest version
	for _, e := range m.Entries {
		if e.Kind == xroad.KindArchive.String() || e.Kind == xroad.KindEncryptedArchive.String() {
			latest[path.Base(e.Path)] = e
		}
	}
	var links, archived []xroad.Link
	groups := map[string]bool{}
	missing := map[string]manifest.Entry{}
	for name, e := range latest {
		an, err := xroad.ParseArchiveName(name)
		if err != nil {
			rep.add("error", KindEvidence, e, err.Error())
			continue
		}
		l := xroad.Link{Name: name, Group: an.Group, First: an.First, LastDigest: an.Digest}
		if c := e.Chain; c != nil {
			l.PrevArchive, l.PrevDigest, l.LastDigest, l.Known = c.PrevArchive, c.PrevDigest, c.LastDigest, true
		}
		if cl, ok := content[name]; ok {
			l = cl
		}
		archived = append(archived, l)
		if _, ok := listed[e.Key]; !ok {
			missing[name] = e
			continue
		}
		groups[an.Group] = true
		links = append(links, l)
	}
	rep.Groups = len(groups)
	recorded := map[string]manifest.ChainStart{}
	for _, c := range m.ChainStarts {
		recorded[c.Archive] = c
	}
	earliest := xroad.Earliest(archived)
	midHistory := func(l xroad.Link) bool {
		if _, ok := latest[l.PrevArchive]; ok {
			return false // it was archived here: its absence is a loss
		}
		if c, ok := recorded[l.Name]; ok {
			return c.PrevArchive == l.PrevArchive && c.PrevDigest == l.PrevDigest
		}
		if m.StartsRecorded && latest[l.Name].Chain != nil {
			return false // sync saw this archive's chain and recorded no start
		}
		// A manifest from before the record, or an archive whose chain
		// sync could not read (encrypted): the same rule, inferred.
		return earliest[l.Group] == l.Name
	}
	cont := xroad.CheckContinuity(links, midHistory)
	for _, st := range cont.Starts {
		cs := ChainStart{Start: st}
		if c, ok := recorded[st.Archive]; ok && st.Kind == xroad.StartMidHistory {
			cs.RecordedBy = c.RunID
		}
		rep.Chains = append(rep.Chains, cs)
	}
	sort.Slice(rep.Chains, func(i, j int) bool {
		if rep.Chains[i].Group != rep.Chains[j].Group {
			return rep.Chains[i].Group < rep.Chains[j].Group
		}
		return rep.Chains[i].Archive < rep.Chains[j].Archive
	})
	for _, b := range cont.Breaks {
		detail := b.String()
		f := Finding{Severity: "error", Kind: KindChain, Path: b.Before, Detail: detail}
		if gone, ok := missing[b.After]; ok {
			before := "the start of the chain"
			if gone.Chain != nil && gone.Chain.PrevArchive != "" {
				before = fmt.Sprintf("%q", gone.Chain.PrevArchive)
			}
			f.Detail = fmt.Sprintf("group %q: evidence chain broken between %s and %q: archive %q is recorded in the manifest but missing from the destination",
				b.Group, before, b.Before, b.After)
		} else if b.Reason == "previous archive is missing" {
			f.Detail = fmt.Sprintf("group %q: evidence chain broken before %q: its predecessor %q was never archived here, and %q is not where the group's history here begins (a gap in what was shipped)",
				b.Group, b.Before, b.After, b.Before)
		}
		rep.Findings = append(rep.Findings, f)
	}
}
