package verify

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"time"

	"github.com/xroad-archiver/archiver/internal/gpg"
	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/outcome"
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
	Bookkeeping manifest.Stats `json:"bookkeeping"` // reading the record: manifests, checkpoints, leaves, markers
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
//
// It streams, whatever the history's length: the state is read one
// checkpoint leaf at a time and merged with the destination's listing
// (both in key order), objects are re-read as the merge finds them, and
// chain continuity is checked through sorted spill files (see
// continuity). Memory holds a leaf, the deltas since the last checkpoint,
// the objects in flight and one spill run at a time.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	start := o.Now()
	rec := &recordReader{Reader: o.Store}
	o.Store = rec
	rep := &Report{Destination: o.Store.URL(), Started: start, Status: outcome.StatusError, Findings: []Finding{}}
	defer func() {
		rep.Bookkeeping = rec.Stats()
		rep.DurationSec = o.Now().Sub(start).Seconds()
		if rep.DurationSec > 0 {
			rep.MBPerSec = float64(rep.Reread.Bytes) / 1e6 / rep.DurationSec
		}
	}()
	// A missing bucket or directory is that, not "nothing archived".
	if err := o.Store.Check(ctx); err != nil {
		return rep.fail(err)
	}
	st, err := o.chain(ctx, rep)
	if err != nil {
		return rep, err
	}
	arch, err := o.scan(ctx, st, rep)
	if errors.Is(err, manifest.ErrInvalid) {
		return rep, rep.unreadable(err) // a leaf of the state is damaged
	}
	if err != nil {
		return rep.fail(err)
	}
	if err := o.continuity(st, arch, rep); err != nil {
		return rep.fail(err)
	}
	return rep.conclude()
}

// chain walks the manifest chain into rep and opens the state to verify.
// A damaged or tampered record is a finding about the destination, not a
// failure to reach it.
func (o *Options) chain(ctx context.Context, rep *Report) (*manifest.State, error) {
	st, n, findings, err := manifestChain(ctx, o.Store, o.AsOf, o.Now())
	if errors.Is(err, manifest.ErrInvalid) {
		return nil, rep.unreadable(err)
	}
	if err != nil {
		_, err = rep.fail(err)
		return nil, err
	}
	rep.Manifest, rep.Manifests = st.Ref.Key, n // Entries: counted by the scan
	rep.Findings = append(rep.Findings, findings...)
	return st, nil
}

// unreadable records a damaged or tampered record as a finding.
func (r *Report) unreadable(err error) error {
	r.Findings = append(r.Findings, Finding{Severity: "error", Kind: KindManifest, Detail: err.Error()})
	r.Status, r.Error = outcome.StatusFailed, err.Error()
	return fmt.Errorf("the manifest to verify against is unreadable: %w", ErrFailed)
}

func (r *Report) fail(err error) (*Report, error) {
	r.Error = err.Error()
	return r, err
}

// conclude sets the status from the findings.
func (r *Report) conclude() (*Report, error) {
	r.Status = outcome.StatusVerified
	if n := r.errors(); n > 0 {
		r.Status = outcome.StatusFailed
		return r, fmt.Errorf("%d problems found: %w", n, ErrFailed)
	}
	return r, nil
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
