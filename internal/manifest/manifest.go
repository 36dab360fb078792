// Package manifest owns archiver's record of what was archived: one JSON
// manifest per run that changed something, written under the reserved
// .archiver/manifests/ prefix after all of the run's data and chained to
// its predecessor by SHA-256.
//
// Format 2 (written now) keeps the cost of a run proportional to its own
// work: a manifest holds only the entries its run added (a delta) and,
// every few runs, pins a checkpoint of the whole state, a sorted index
// split into content-addressed leaves under .archiver/index/ that later
// checkpoints share when unchanged. A run reads the newest manifest
// (found through .archiver/tip/), the deltas since the last checkpoint
// and only the leaves its local files fall into. Format 1 manifests
// (every entry archived so far in each one) are still read, and the first
// format 2 run after them migrates the state into a checkpoint.
//
// The manifest, not the bucket listing, is the source of truth: a run whose
// manifest was not committed did not happen. The package reads and writes
// manifests through a store.Store and never talks to AWS directly.
package manifest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xroad-archiver/archiver/internal/store"
)

// Prefix is the reserved key prefix for manifests.
const Prefix = ".archiver/manifests/"

// Version is the manifest format version this package writes: a delta
// of the run's entries, with a checkpoint of the whole state every few
// runs (see State).
const Version = 2

// VersionFull is the first format, still read: every manifest lists every
// entry archived so far.
const VersionFull = 1

// maxManifest bounds what Decode reads (about two million entries).
const maxManifest = 1 << 30

// Manifest is the state of the destination as of one run.
type Manifest struct {
	Version int `json:"version"`
	// Seq is greater than the predecessor's (1 for the first manifest; one
	// more, unless a run died holding the next number, see Commit); the key
	// starts with it, so the lexically last key is the newest manifest
	// whatever the clocks of the hosts that wrote them say.
	Seq      int64     `json:"seq"`
	RunID    string    `json:"run_id"`
	Created  time.Time `json:"created"`
	Source   string    `json:"source,omitempty"`
	Host     string    `json:"host,omitempty"`
	Previous *Ref      `json:"previous,omitempty"`
	// Total is the number of entries in the state as of this manifest
	// (format 2; format 1 lists them all in Entries).
	Total int64 `json:"total_entries,omitempty"`
	// NewestArchive is the newest mtime of a message-log archive in the
	// state as of this manifest (format 2).
	NewestArchive time.Time `json:"newest_archive,omitzero"`
	// ChainStarts are the groups whose evidence chain, as archived here,
	// begins mid-history: recorded by the sync that first saw the
	// group's earliest archive naming a predecessor that was neither
	// archived nor on the volume. Every manifest carries all earlier
	// records (in both formats). Manifests before this field have none.
	ChainStarts []ChainStart `json:"chain_starts,omitempty"`
	// StartsRecorded says the writer recorded ChainStarts (so a start
	// missing from them is not one). False in manifests from before.
	StartsRecorded bool `json:"chain_starts_recorded,omitempty"`
	// Earliest holds, in format 2, the entry of each evidence group's
	// earliest archive as of this manifest (chosen by the writer, which
	// knows archive names), so a run finds where chains start without
	// reading the history.
	Earliest []Entry `json:"earliest,omitempty"`
	// Checkpoint, in format 2, pins the whole state as of this manifest
	// (its predecessor's state plus Entries); without it the state is the
	// predecessor's plus Entries. It is encoded before Entries so a reader
	// that needs only the state stops before them.
	Checkpoint *Ref `json:"checkpoint,omitempty"`
	// Entries are, in format 2, the entries this run added; in format 1,
	// every entry archived so far.
	Entries []Entry `json:"entries"`
}

// ChainStart is where a group's chain, as archived here, begins: Archive
// names PrevArchive in its linkinginfo line 1, and PrevArchive was never
// archived here (it left the server before archiver was installed).
type ChainStart struct {
	Group       string    `json:"group"`
	Archive     string    `json:"archive"` // file name of the first archive held
	PrevArchive string    `json:"prev_archive"`
	PrevDigest  string    `json:"prev_digest"`
	RunID       string    `json:"run_id"` // the sync that recorded it
	Recorded    time.Time `json:"recorded"`
}

// Ref points at another manifest and pins its content.
type Ref struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
}

// Entry is one archived object.
type Entry struct {
	Path       string    `json:"path"` // source-relative slash path
	Key        string    `json:"key"`  // object key relative to the destination root
	Kind       string    `json:"kind"` // archive, encrypted-archive, backup
	Size       int64     `json:"size"` // original bytes
	MTime      time.Time `json:"mtime"`
	SHA256     string    `json:"sha256"` // of the original bytes
	Encoding   string    `json:"encoding,omitempty"`
	StoredSize int64     `json:"stored_size"`
	RunID      string    `json:"run_id"`
	KMSKeyID   string    `json:"kms_key_id,omitempty"`
	// Chain is the archive's place in its group's evidence chain, read from
	// its linkinginfo when it was shipped (plain .zip archives only).
	Chain *Chain `json:"chain,omitempty"`
}

// Chain is what an archive's linkinginfo says about its neighbours.
type Chain struct {
	Algorithm   string `json:"algorithm"`
	PrevArchive string `json:"prev_archive,omitempty"`
	PrevDigest  string `json:"prev_digest,omitempty"`
	LastDigest  string `json:"last_digest"`
	Containers  int    `json:"containers"`
}

// SeqOf returns the sequence number a manifest key starts with.
func SeqOf(key string) (int64, bool) {
	var seq int64
	_, err := fmt.Sscanf(path.Base(key), "%012d-", &seq)
	return seq, err == nil
}

// Key returns the object key of a manifest.
func Key(seq int64, runID string) string { return fmt.Sprintf("%s%012d-%s.json", Prefix, seq, runID) }

// Find returns the key of runID's manifest, or an error matching
// store.ErrNotFound.
func Find(ctx context.Context, s store.Reader, runID string) (string, error) {
	keys, err := List(ctx, s)
	if err != nil {
		return "", err
	}
	for _, k := range keys {
		if strings.HasSuffix(k, "-"+runID+".json") {
			return k, nil
		}
	}
	return "", fmt.Errorf("run %s: no manifest: %w", runID, store.ErrNotFound)
}

// ErrInvalid marks a manifest that does not decode or validate.
var ErrInvalid = errors.New("invalid manifest")

// Decode reads and validates a manifest.
func Decode(r io.Reader) (*Manifest, error) {
	rr := &readErr{r: io.LimitReader(r, maxManifest)}
	dec := json.NewDecoder(rr)
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		if rr.err != nil {
			// The bytes did not arrive (connection reset, cancelled):
			// nothing is known about the manifest itself.
			return nil, fmt.Errorf("read manifest: %w", rr.err)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// readErr remembers the first read error other than EOF.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// Validate checks the manifest's own consistency. It never trusts keys or
// paths: both must be clean relative paths.
func (m *Manifest) Validate() error {
	if m.Version != Version && m.Version != VersionFull {
		return fmt.Errorf("%w: version %d, this archiver reads %d and %d", ErrInvalid, m.Version, VersionFull, Version)
	}
	if m.RunID == "" || strings.ContainsAny(m.RunID, "/\\") {
		return fmt.Errorf("%w: bad run id %q", ErrInvalid, m.RunID)
	}
	if m.Seq < 1 {
		return fmt.Errorf("%w: sequence number %d", ErrInvalid, m.Seq)
	}
	for i, e := range m.Entries {
		if err := e.validate(); err != nil {
			return fmt.Errorf("%w: entry %d: %v", ErrInvalid, i, err)
		}
	}
	for i, e := range m.Earliest {
		if err := e.validate(); err != nil {
			return fmt.Errorf("%w: earliest %d: %v", ErrInvalid, i, err)
		}
	}
	if m.Total < 0 {
		return fmt.Errorf("%w: negative total", ErrInvalid)
	}
	if c := m.Checkpoint; c != nil && (m.Version != Version || !strings.HasPrefix(c.Key, checkpointPrefix) || store.CheckKey(c.Key) != nil || len(c.SHA256) != 64 || !IsHex(c.SHA256)) {
		return fmt.Errorf("%w: bad checkpoint reference %q", ErrInvalid, c.Key)
	}
	for i, c := range m.ChainStarts {
		if c.Archive == "" || c.PrevArchive == "" || !IsHex(c.PrevDigest) {
			return fmt.Errorf("%w: chain start %d (%s): archive, predecessor and digest must be set", ErrInvalid, i, c.Archive)
		}
	}
	return nil
}

// validate checks one entry; keys and paths must be clean relative paths.
func (e *Entry) validate() error {
	if err := store.CheckKey(e.Key); err != nil {
		return err
	}
	if err := store.CheckKey(e.Path); err != nil {
		return fmt.Errorf("path: %v", err)
	}
	if len(e.SHA256) != 64 || !IsHex(e.SHA256) {
		return fmt.Errorf("%s: bad sha256", e.Path)
	}
	if e.Size < 0 || e.StoredSize < 0 {
		return fmt.Errorf("%s: negative size", e.Path)
	}
	if c := e.Chain; c != nil && (!IsHex(c.LastDigest) || (c.PrevDigest != "" && !IsHex(c.PrevDigest))) {
		return fmt.Errorf("%s: bad chain digest", e.Path)
	}
	return nil
}

// IsHex reports whether s is lower-case hex digits, as every digest in a
// manifest is written (and the version suffix of a key, which is one).
func IsHex(s string) bool { return s != "" && strings.Trim(s, "0123456789abcdef") == "" }

// Encode renders the manifest as JSON: indented in format 1 (as it always
// was), compact in format 2.
func (m *Manifest) Encode() ([]byte, error) {
	if m.Version == VersionFull {
		return json.MarshalIndent(m, "", " ")
	}
	return json.Marshal(m)
}

// List returns the manifest keys in s, oldest first.
func List(ctx context.Context, s store.Reader) ([]string, error) {
	var keys []string
	err := s.List(ctx, Prefix, func(o store.Object) error {
		if path.Dir(o.Key)+"/" == Prefix && strings.HasSuffix(o.Key, ".json") {
			keys = append(keys, o.Key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list manifests: %w", err)
	}
	return keys, nil
}

// Load reads the manifest at key as stored (in format 2, its header and
// its run's entries only) and returns it with a Ref pinning its bytes.
func Load(ctx context.Context, s store.Reader, key string) (*Manifest, *Ref, error) {
	rc, _, err := s.Get(ctx, key)
	if err != nil {
		return nil, nil, fmt.Errorf("read manifest: %w", err)
	}
	defer rc.Close()
	h := sha256.New()
	m, err := Decode(io.TeeReader(rc, h))
	if err != nil {
		return nil, nil, fmt.Errorf("manifest %s: %w", key, err)
	}
	if _, err := io.Copy(h, rc); err != nil {
		return nil, nil, fmt.Errorf("read manifest %s: %w", key, err)
	}
	return m, &Ref{Key: key, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// seqPrefix holds one small claim object per sequence number: whoever
// creates it (a conditional write) may commit that manifest.
const seqPrefix = ".archiver/seq/"

// ClaimTimeout is how long a sequence number's claim may stay without its
// manifest before a later run treats it as the remains of a run that died
// between the two writes (OOM kill, deadline, node drain) and skips the
// number. Writing one manifest takes seconds; a run that holds a claim
// this long is not coming back.
const ClaimTimeout = 15 * time.Minute

// maxClaim bounds a claim object (a run id and the holder's line).
const maxClaim = 4096

// ErrConcurrent means another run committed the same sequence number, or
// claimed it moments ago: two archivers wrote to one destination at once.
var ErrConcurrent = errors.New("another run committed a manifest concurrently")

// Commit writes m to s (never overwriting) and returns its Ref. It first
// claims m.Seq, so two runs that started from the same predecessor cannot
// both commit; the loser gets ErrConcurrent (its uploads are adopted by the
// next run). Claims older than ClaimTimeout (by m.Created) with no
// manifest, or whose holder is provably gone (see holderGone), are
// interrupted commits: Commit takes the number after the last
// of them, so dead runs never stop later ones. m.Seq is updated to the
// number committed. The manifest is encoded before anything is claimed,
// so a run that cannot encode it (memory) leaves no claim behind.
func Commit(ctx context.Context, s store.Store, m *Manifest) (*Ref, error) {
	ref, _, err := commit(ctx, s, m)
	return ref, err
}

// commit is Commit, also returning the manifest's size.
func commit(ctx context.Context, s store.Store, m *Manifest) (*Ref, int, error) {
	b, err := m.Encode()
	if err != nil {
		return nil, 0, err
	}
	for attempt := 0; ; attempt++ {
		err := claim(ctx, s, m)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrExists) {
			return nil, 0, fmt.Errorf("commit manifest %d of run %s: %w", m.Seq, m.RunID, err)
		}
		next, err := pastOrphans(ctx, s, m)
		if err != nil {
			return nil, 0, fmt.Errorf("commit manifest %d of run %s: %w", m.Seq, m.RunID, err)
		}
		if attempt == 3 { // orphans keep appearing: someone else is writing
			return nil, 0, fmt.Errorf("commit manifest %d of run %s: %w", m.Seq, m.RunID, ErrConcurrent)
		}
		m.Seq = next
		if b, err = m.Encode(); err != nil {
			return nil, 0, err
		}
	}
	sum := sha256.Sum256(b)
	hexSum := hex.EncodeToString(sum[:])
	key := Key(m.Seq, m.RunID)
	_, err = s.Put(ctx, key, store.Payload{At: bytes.NewReader(b), Size: int64(len(b)),
		CRC32C: crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)), SHA256: hexSum},
		store.Meta{SHA256: hexSum, Size: int64(len(b)), MTime: m.Created, Path: key, RunID: m.RunID})
	if err != nil {
		return nil, 0, fmt.Errorf("commit manifest %s: %w", key, err)
	}
	return &Ref{Key: key, SHA256: hexSum}, len(b), nil
}

// pastOrphans returns the first number after the claims from m.Seq on,
// when every one of them is an interrupted commit; otherwise ErrConcurrent
// saying which run got there first.
func pastOrphans(ctx context.Context, s store.Store, m *Manifest) (int64, error) {
	cs, err := Claims(ctx, s, m.Seq)
	if err != nil {
		return 0, err
	}
	next := m.Seq
	for _, c := range cs {
		if c.Manifest != "" {
			return 0, fmt.Errorf("run %s committed manifest %d first: %w", c.RunID, c.Seq, ErrConcurrent)
		}
		if age := m.Created.Sub(c.Claimed); age < ClaimTimeout && !holderGone(c.Holder) {
			return 0, fmt.Errorf("run %s claimed number %d %s ago and has not written its manifest (a run still committing, or one that died; "+
				"a claim is skipped once it is %s old): %w", c.RunID, c.Seq, age.Round(time.Second), ClaimTimeout, ErrConcurrent)
		}
		next = max(next, c.Seq+1)
	}
	if next == m.Seq { // the claim vanished between the write and the listing
		return 0, ErrConcurrent
	}
	return next, nil
}

// claim creates the claim object of m.Seq, or fails with store.ErrExists.
func claim(ctx context.Context, s store.Store, m *Manifest) error {
	b := []byte(m.RunID + "\n" + holderLine() + "\n")
	_, err := s.Put(ctx, claimKey(m.Seq), store.Payload{At: bytes.NewReader(b), Size: int64(len(b)),
		CRC32C: crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))}, store.Meta{Size: int64(len(b)), MTime: m.Created, RunID: m.RunID})
	return err
}

func claimKey(seq int64) string { return fmt.Sprintf("%s%012d", seqPrefix, seq) }

// Claim is one sequence number's claim and what became of it.
type Claim struct {
	Key      string // the claim object
	Seq      int64
	RunID    string
	Claimed  time.Time
	Manifest string // the manifest key committed under Seq; "" if none
	// Holder names the process that claimed Seq (see holderLine); "" for
	// claims written before it was recorded.
	Holder string
}

// Claims returns the claims with sequence numbers from `from` on, oldest
// first, each with the manifest committed under it, if any.
func Claims(ctx context.Context, s store.Reader, from int64) ([]Claim, error) {
	keys, err := List(ctx, s)
	if err != nil {
		return nil, err
	}
	return ClaimsFor(ctx, s, keys, from)
}

// ClaimsFor is Claims for a caller that has listed the manifest keys
// already.
func ClaimsFor(ctx context.Context, s store.Reader, keys []string, from int64) ([]Claim, error) {
	manifests := map[int64]string{}
	for _, k := range keys {
		if seq, ok := SeqOf(k); ok {
			manifests[seq] = k
		}
	}
	var out []Claim
	err := s.List(ctx, seqPrefix, func(o store.Object) error {
		seq, err := strconv.ParseInt(strings.TrimPrefix(o.Key, seqPrefix), 10, 64)
		if err != nil || seq < from || o.Size > maxClaim {
			return nil // not a claim archiver wrote
		}
		out = append(out, Claim{Key: o.Key, Seq: seq, Claimed: o.LastModified, Manifest: manifests[seq]})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list sequence claims: %w", err)
	}
	for i := range out {
		if out[i].Manifest != "" {
			continue
		}
		// Name the run that holds an orphaned claim (the claim's body).
		rc, _, err := s.Get(ctx, claimKey(out[i].Seq))
		if err != nil {
			return nil, fmt.Errorf("read sequence claim %d: %w", out[i].Seq, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxClaim))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("read sequence claim %d: %w", out[i].Seq, err)
		}
		runID, holder, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		out[i].RunID, out[i].Holder = strings.TrimSpace(runID), strings.TrimSpace(holder)
	}
	return out, nil
}

// Current returns the newest version of every path in entries (a manifest
// lists a rewritten name once per version), sorted by path: what the
// destination holds for the source as of that manifest.
func Current(entries []Entry) []Entry {
	latest := map[string]Entry{}
	for _, e := range entries {
		latest[e.Path] = e
	}
	out := make([]Entry, 0, len(latest))
	for _, e := range latest {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Index answers "what is archived" from a manifest's entries.
type Index struct {
	byPath map[string][]Entry // versions in archiving order
	byKey  map[string]Entry
}

// NewIndex indexes entries.
func NewIndex(entries []Entry) *Index {
	ix := &Index{byPath: map[string][]Entry{}, byKey: map[string]Entry{}}
	for _, e := range entries {
		ix.Add(e)
	}
	return ix
}

// Add records an entry.
func (ix *Index) Add(e Entry) {
	ix.byPath[e.Path] = append(ix.byPath[e.Path], e)
	ix.byKey[e.Key] = e
}

// Latest returns the newest entry for a source path.
func (ix *Index) Latest(p string) (Entry, bool) {
	v := ix.byPath[p]
	if len(v) == 0 {
		return Entry{}, false
	}
	return v[len(v)-1], true
}

// Versions returns every entry for a source path, oldest first.
func (ix *Index) Versions(p string) []Entry { return ix.byPath[p] }

// ByKey returns the entry stored at an object key.
func (ix *Index) ByKey(k string) (Entry, bool) { e, ok := ix.byKey[k]; return e, ok }

// WithSHA returns the entry for path whose content has the given SHA-256.
func (ix *Index) WithSHA(p, sha string) (Entry, bool) {
	for _, e := range ix.byPath[p] {
		if e.SHA256 == sha {
			return e, true
		}
	}
	return Entry{}, false
}
