package manifest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/xroad-archiver/archiver/internal/store"
)

// Format 2 keys beside the manifests.
const (
	// checkpointPrefix holds checkpoint roots, named by their SHA-256.
	checkpointPrefix = ".archiver/checkpoints/"
	// indexPrefix holds checkpoint leaves (JSON lines, sorted by path),
	// named by their SHA-256, so checkpoints share unchanged leaves.
	indexPrefix = ".archiver/index/"
	// tipPrefix holds one small marker per committed manifest, named so
	// that the newest sorts first: finding the newest manifest is one
	// LIST that stops at its first key, however long the history.
	tipPrefix = ".archiver/tip/"
)

// Checkpoint policy: a run writes a checkpoint when the deltas a reader
// would otherwise read (since the last checkpoint, its own included)
// exceed maxPending entries or maxPendingRuns manifests, or when the state
// still rests on a format 1 manifest (the migration). Leaves hold at most
// maxLeaf entries (a path's versions are never split across leaves).
var (
	maxPending     = 2048
	maxPendingRuns = 16
	maxLeaf        = 1024
)

const (
	maxLeafBytes = 64 << 20 // what a leaf decoder reads at most
	maxRootBytes = 64 << 20 // what a checkpoint root decoder reads at most
)

// Checkpoint is the root of one checkpoint: the whole state as of the
// manifest that pins it, as sorted, disjoint leaves.
type Checkpoint struct {
	Version int `json:"version"`
	// RunID and Previous name the manifest whose state this is: the
	// manifest of run RunID whose predecessor is Previous (nil for the
	// first); the checkpoint is written before that manifest, whose
	// sequence number is not known yet.
	RunID    string `json:"run_id"`
	Previous *Ref   `json:"previous,omitempty"`
	Entries  int64  `json:"entries"`
	Leaves   []Leaf `json:"leaves"`
}

// Leaf references one leaf of a checkpoint: Count entries, sorted by path
// from First to Last, stored at Key with SHA-256 SHA256.
type Leaf struct {
	First  string `json:"first"`
	Last   string `json:"last"`
	Count  int    `json:"count"`
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
}

// Stats counts what reading and writing the record cost (objects and
// bytes of manifests, checkpoints, leaves, markers and listings).
type Stats struct {
	Requests     int   `json:"requests"`
	BytesRead    int64 `json:"bytes_read"`
	BytesWritten int64 `json:"bytes_written"`
}

// State is the destination's state as of one manifest: a base (a
// checkpoint, or a format 1 manifest's full entry list) plus the deltas
// of the format 2 manifests after it. Opening a State reads only the
// manifests since the last checkpoint and the checkpoint's root; leaves are
// read when asked for (Index, Each).
type State struct {
	// Head is the manifest the state is as of. When it pins a checkpoint
	// its Entries may not have been read (nil).
	Head *Manifest
	Ref  *Ref
	// Stats accumulates the bookkeeping I/O of this state's reads and of
	// the commit made from it.
	Stats Stats

	s       store.Reader
	cp      *Checkpoint // base checkpoint, or nil
	full    []Entry     // base entries of a format 1 manifest, or nil
	pending []*Manifest // format 2 deltas after the base, oldest first
	leaves  map[string][]Entry
}

// Total returns the number of entries in the state.
func (st *State) Total() int64 {
	if st == nil {
		return 0
	}
	if st.Head.Version == Version {
		return st.Head.Total
	}
	return int64(len(st.full))
}

// ChainStarts returns every chain start recorded as of the state.
func (st *State) ChainStarts() []ChainStart {
	if st == nil {
		return nil
	}
	return st.Head.ChainStarts
}

// Earliest returns each group's earliest archive as recorded by the newest
// manifest; ok is false when the state rests on a format 1 manifest,
// which does not record it (the caller derives it from Each).
func (st *State) Earliest() (entries []Entry, ok bool) {
	if st == nil {
		return nil, true
	}
	return st.Head.Earliest, st.Head.Version == Version
}

// NewestArchive returns the newest mtime of a message-log archive in the
// state (zero: none).
func (st *State) NewestArchive() time.Time {
	if st == nil {
		return time.Time{}
	}
	if st.Head.Version == Version {
		return st.Head.NewestArchive
	}
	return newestArchive(time.Time{}, st.full)
}

func newestArchive(t time.Time, entries []Entry) time.Time {
	for _, e := range entries {
		if (e.Kind == "archive" || e.Kind == "encrypted-archive") && e.MTime.After(t) {
			t = e.MTime
		}
	}
	return t
}

// OpenLatest opens the state as of the newest manifest in s, or returns
// nil when s holds none.
func OpenLatest(ctx context.Context, s store.Reader) (*State, error) {
	var stats Stats
	key, err := latestKey(ctx, s, &stats)
	if err != nil || key == "" {
		return nil, err
	}
	st, err := open(ctx, s, key, &stats)
	if errors.Is(err, store.ErrNotFound) {
		// The newest marker names a manifest that is gone: find the newest
		// by listing, as for a destination without markers.
		if key, err = lastListed(ctx, s, &stats); err != nil || key == "" {
			return nil, err
		}
		st, err = open(ctx, s, key, &stats)
	}
	return st, err
}

// OpenRun opens the state as of runID's manifest.
func OpenRun(ctx context.Context, s store.Reader, runID string) (*State, error) {
	k, err := Find(ctx, s, runID)
	if err != nil {
		return nil, err
	}
	return Open(ctx, s, k)
}

// Open opens the state as of the manifest at key.
func Open(ctx context.Context, s store.Reader, key string) (*State, error) {
	return open(ctx, s, key, &Stats{})
}

func open(ctx context.Context, s store.Reader, key string, stats *Stats) (*State, error) {
	st := &State{s: s, Stats: *stats, leaves: map[string][]Entry{}}
	cur, ref, err := st.readManifest(ctx, key, true)
	if err != nil {
		return nil, err
	}
	st.Head, st.Ref = cur, ref
walk:
	for {
		switch {
		case cur.Version == VersionFull:
			st.full = cur.Entries
		case cur.Checkpoint != nil:
			if st.cp, err = st.readCheckpoint(ctx, *cur.Checkpoint); err != nil {
				return nil, fmt.Errorf("manifest of run %s: %w", cur.RunID, err)
			}
			if st.cp.RunID != cur.RunID || !sameRef(st.cp.Previous, cur.Previous) {
				return nil, fmt.Errorf("%w: checkpoint %s is not the state of run %s's manifest", ErrInvalid, cur.Checkpoint.Key, cur.RunID)
			}
		default:
			st.pending = append(st.pending, cur)
			if cur.Previous != nil {
				if cur, _, err = st.readManifest(ctx, cur.Previous.Key, true); err != nil {
					return nil, err
				}
				continue
			}
		}
		break walk
	}
	for i, j := 0, len(st.pending)-1; i < j; i, j = i+1, j-1 {
		st.pending[i], st.pending[j] = st.pending[j], st.pending[i]
	}
	return st, nil
}

func sameRef(a, b *Ref) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// readManifest reads a manifest. With stopAtCheckpoint, the entries of a
// format 2 manifest that pins a checkpoint are not read (its state is the
// checkpoint); the Ref then carries the SHA-256 the writer stored in the
// object's metadata (verify recomputes it from the bytes).
func (st *State) readManifest(ctx context.Context, key string, stopAtCheckpoint bool) (*Manifest, *Ref, error) {
	rc, obj, err := st.s.Get(ctx, key)
	if err != nil {
		return nil, nil, fmt.Errorf("read manifest: %w", err)
	}
	defer rc.Close()
	st.Stats.Requests++
	cr := &countingReader{r: rc}
	h := sha256.New()
	m, complete, err := decodeHeader(io.TeeReader(cr, h), stopAtCheckpoint && obj.Meta.SHA256 != "")
	if err != nil {
		st.Stats.BytesRead += cr.n
		return nil, nil, fmt.Errorf("manifest %s: %w", key, err)
	}
	ref := &Ref{Key: key, SHA256: obj.Meta.SHA256}
	if complete {
		if _, err := io.Copy(h, cr); err != nil {
			return nil, nil, fmt.Errorf("read manifest %s: %w", key, err)
		}
		ref.SHA256 = hex.EncodeToString(h.Sum(nil))
	}
	st.Stats.BytesRead += cr.n
	return m, ref, nil
}

// decodeHeader decodes a manifest; when stop is set and the manifest is in
// format 2 with its checkpoint before its entries, it stops there and
// reports complete=false (Entries nil).
func decodeHeader(r io.Reader, stop bool) (m *Manifest, complete bool, err error) {
	if !stop {
		m, err := Decode(r)
		return m, true, err
	}
	rr := &readErr{r: io.LimitReader(r, maxManifest)}
	dec := json.NewDecoder(rr)
	invalid := func(err error) (*Manifest, bool, error) {
		if rr.err != nil {
			return nil, false, fmt.Errorf("read manifest: %w", rr.err)
		}
		return nil, false, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return invalid(fmt.Errorf("not a JSON object"))
	}
	fields := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return invalid(err)
		}
		name, _ := t.(string)
		if name == "entries" && string(fields["version"]) == fmt.Sprint(Version) && len(fields["checkpoint"]) > 0 && string(fields["checkpoint"]) != "null" {
			b, _ := json.Marshal(fields)
			var h Manifest
			if err := json.Unmarshal(b, &h); err != nil {
				return invalid(err)
			}
			if err := h.Validate(); err != nil {
				return nil, false, err
			}
			return &h, false, nil
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return invalid(err)
		}
		fields[name] = v
	}
	// No checkpoint before the entries: decode the whole thing as usual.
	if _, err := dec.Token(); err != nil {
		return invalid(err)
	}
	b, _ := json.Marshal(fields)
	h, err := Decode(bytes.NewReader(b))
	return h, true, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readCheckpoint reads and validates a checkpoint root, checking its
// SHA-256 against ref.
func (st *State) readCheckpoint(ctx context.Context, ref Ref) (*Checkpoint, error) {
	b, err := st.readPinned(ctx, ref, maxRootBytes)
	if err != nil {
		return nil, err
	}
	cp, err := DecodeCheckpoint(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", ref.Key, err)
	}
	return cp, nil
}

// readPinned reads an object whole (a root or a leaf: bounded by limit)
// and checks it against the SHA-256 its reference pins.
func (st *State) readPinned(ctx context.Context, ref Ref, limit int64) ([]byte, error) {
	rc, _, err := st.s.Get(ctx, ref.Key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ref.Key, err)
	}
	defer rc.Close()
	st.Stats.Requests++
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	st.Stats.BytesRead += int64(len(b))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ref.Key, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalid, ref.Key, limit)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != ref.SHA256 {
		return nil, fmt.Errorf("%w: %s has SHA-256 %s, its reference pins %s", ErrInvalid, ref.Key, hex.EncodeToString(sum[:]), ref.SHA256)
	}
	return b, nil
}

// DecodeCheckpoint reads and validates a checkpoint root: leaves sorted
// and disjoint, counts adding up, keys in the index.
func DecodeCheckpoint(r io.Reader) (*Checkpoint, error) {
	var cp Checkpoint
	dec := json.NewDecoder(io.LimitReader(r, maxRootBytes))
	if err := dec.Decode(&cp); err != nil {
		return nil, fmt.Errorf("%w: checkpoint: %v", ErrInvalid, err)
	}
	if cp.Version != Version {
		return nil, fmt.Errorf("%w: checkpoint version %d", ErrInvalid, cp.Version)
	}
	if cp.RunID == "" || strings.ContainsAny(cp.RunID, "/\\") {
		return nil, fmt.Errorf("%w: checkpoint: bad run id %q", ErrInvalid, cp.RunID)
	}
	var n int64
	for i, l := range cp.Leaves {
		switch {
		case l.Count < 1 || l.First == "" || l.First > l.Last:
			return nil, fmt.Errorf("%w: checkpoint leaf %d: empty or inverted range", ErrInvalid, i)
		case i > 0 && cp.Leaves[i-1].Last >= l.First:
			return nil, fmt.Errorf("%w: checkpoint leaf %d: out of order or overlapping its predecessor", ErrInvalid, i)
		case !strings.HasPrefix(l.Key, indexPrefix) || store.CheckKey(l.Key) != nil || len(l.SHA256) != 64 || !IsHex(l.SHA256):
			return nil, fmt.Errorf("%w: checkpoint leaf %d: bad reference %q", ErrInvalid, i, l.Key)
		}
		n += int64(l.Count)
	}
	if n != cp.Entries {
		return nil, fmt.Errorf("%w: checkpoint leaves hold %d entries, it records %d", ErrInvalid, n, cp.Entries)
	}
	return &cp, nil
}

// DecodeLeaf reads and validates a leaf: JSON lines of entries sorted by
// path, exactly the count and range its reference records.
func DecodeLeaf(r io.Reader, l Leaf) ([]Entry, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxLeafBytes))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []Entry
	for sc.Scan() {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%w: leaf %s line %d: %v", ErrInvalid, l.Key, len(out)+1, err)
		}
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("%w: leaf %s line %d: %v", ErrInvalid, l.Key, len(out)+1, err)
		}
		if len(out) > 0 && out[len(out)-1].Path > e.Path {
			return nil, fmt.Errorf("%w: leaf %s line %d: not sorted by path", ErrInvalid, l.Key, len(out)+1)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: leaf %s: %v", ErrInvalid, l.Key, err)
	}
	if len(out) != l.Count || out[0].Path != l.First || out[len(out)-1].Path != l.Last {
		return nil, fmt.Errorf("%w: leaf %s holds %d entries, its reference records %d from %q to %q", ErrInvalid, l.Key, len(out), l.Count, l.First, l.Last)
	}
	return out, nil
}

func (st *State) readLeaf(ctx context.Context, l Leaf) ([]Entry, error) {
	if es, ok := st.leaves[l.Key]; ok {
		return es, nil
	}
	b, err := st.readPinned(ctx, Ref{Key: l.Key, SHA256: l.SHA256}, maxLeafBytes)
	if err != nil {
		return nil, err
	}
	es, err := DecodeLeaf(bytes.NewReader(b), l)
	if err != nil {
		return nil, err
	}
	st.leaves[l.Key] = es
	return es, nil
}

// readLeafIf reads a leaf, and decodes it only when keep (nil: always)
// accepts its bytes.
func (st *State) readLeafIf(ctx context.Context, l Leaf, keep func([]byte) bool) ([]Entry, error) {
	if keep == nil {
		return st.readLeaf(ctx, l)
	}
	b, err := st.readPinned(ctx, Ref{Key: l.Key, SHA256: l.SHA256}, maxLeafBytes)
	if err != nil || !keep(b) {
		return nil, err
	}
	return DecodeLeaf(bytes.NewReader(b), l)
}

// leafFor returns the index of the leaf whose range p falls in or after
// (0 when p sorts before every leaf).
func leafFor(leaves []Leaf, p string) int {
	i := sort.Search(len(leaves), func(i int) bool { return leaves[i].First > p })
	return max(i-1, 0)
}

// Index returns an index of every version of the given source paths, plus
// every entry the deltas since the last checkpoint hold: enough to decide
// for those files what is archived, reading only the leaves they fall in.
func (st *State) Index(ctx context.Context, paths []string) (*Index, error) {
	ix := NewIndex(nil)
	if st == nil {
		return ix, nil
	}
	want := make(map[string]bool, len(paths))
	for _, p := range paths {
		want[p] = true
	}
	for _, e := range st.full {
		if want[e.Path] {
			ix.Add(e)
		}
	}
	if st.cp != nil && len(st.cp.Leaves) > 0 {
		touched := map[int]bool{}
		for _, p := range paths {
			if i := leafFor(st.cp.Leaves, p); st.cp.Leaves[i].First <= p && p <= st.cp.Leaves[i].Last {
				touched[i] = true
			}
		}
		idx := make([]int, 0, len(touched))
		for i := range touched {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		for _, i := range idx {
			es, err := st.readLeaf(ctx, st.cp.Leaves[i])
			if err != nil {
				return nil, err
			}
			for _, e := range es {
				if want[e.Path] {
					ix.Add(e)
				}
			}
		}
	}
	for _, m := range st.pending {
		for _, e := range m.Entries {
			ix.Add(e)
		}
	}
	return ix, nil
}

// Each calls fn for every entry of the state in path order, the versions
// of one path oldest first, reading one leaf at a time.
func (st *State) Each(ctx context.Context, fn func(Entry) error) error {
	return st.each(ctx, nil, fn)
}

// EachContaining is Each for a caller that wants only entries whose JSON
// form contains one of needles (say, a file name): a checkpoint leaf
// whose bytes (checked against the SHA-256 its root pins) contain none
// of them is skipped without being decoded. Every other entry, of the
// leaves read and of the deltas, is passed on; fn still filters exactly.
// Needles are matched as JSON encodes them (see JSONText).
func (st *State) EachContaining(ctx context.Context, needles []string, fn func(Entry) error) error {
	keep := func(b []byte) bool {
		for _, n := range needles {
			if bytes.Contains(b, []byte(JSONText(n))) {
				return true
			}
		}
		return false
	}
	return st.each(ctx, keep, fn)
}

// JSONText is s as it appears inside a JSON string written by this
// package (escapes included, quotes not).
func JSONText(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

func (st *State) each(ctx context.Context, keep func([]byte) bool, fn func(Entry) error) error {
	if st == nil {
		return nil
	}
	var delta []Entry
	for _, m := range st.pending {
		delta = append(delta, m.Entries...)
	}
	sort.SliceStable(delta, func(i, j int) bool { return delta[i].Path < delta[j].Path })
	emit := func(base []Entry) error {
		for _, e := range base {
			for len(delta) > 0 && delta[0].Path < e.Path {
				if err := fn(delta[0]); err != nil {
					return err
				}
				delta = delta[1:]
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	}
	if st.full != nil {
		base := append([]Entry(nil), st.full...)
		sort.SliceStable(base, func(i, j int) bool { return base[i].Path < base[j].Path })
		if err := emit(base); err != nil {
			return err
		}
	}
	if st.cp != nil {
		for _, l := range st.cp.Leaves {
			es, err := st.readLeafIf(ctx, l, keep)
			if err != nil {
				return err
			}
			delete(st.leaves, l.Key) // stream: keep one leaf at a time
			if err := emit(es); err != nil {
				return err
			}
		}
	}
	for _, e := range delta {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// Manifest returns the state as one manifest holding every entry (the
// format 1 view), for callers that need the whole list in memory.
func (st *State) Manifest(ctx context.Context) (*Manifest, error) {
	m := *st.Head
	m.Entries = make([]Entry, 0, st.Total())
	if err := st.Each(ctx, func(e Entry) error { m.Entries = append(m.Entries, e); return nil }); err != nil {
		return nil, err
	}
	return &m, nil
}

// Latest returns the most recent state in s as one manifest holding every
// entry, or nil if there is none. It loads the whole history into memory:
// runs use OpenLatest and State.Index instead.
func Latest(ctx context.Context, s store.Reader) (*Manifest, *Ref, error) {
	st, err := OpenLatest(ctx, s)
	if err != nil || st == nil {
		return nil, nil, err
	}
	m, err := st.Manifest(ctx)
	return m, st.Ref, err
}

// LoadRun loads the state recorded by runID's manifest as one manifest
// holding every entry.
func LoadRun(ctx context.Context, s store.Reader, runID string) (*Manifest, *Ref, error) {
	st, err := OpenRun(ctx, s, runID)
	if err != nil {
		return nil, nil, err
	}
	m, err := st.Manifest(ctx)
	return m, st.Ref, err
}

// needsCheckpoint says whether a commit adding n entries to st writes a
// checkpoint (see maxPending).
func (st *State) needsCheckpoint(n int) bool {
	if st == nil {
		return n > maxPending
	}
	if st.full != nil {
		return true
	}
	for _, m := range st.pending {
		n += len(m.Entries)
	}
	return n > maxPending || len(st.pending)+1 > maxPendingRuns
}

// ErrTip marks a failure to write the newest-manifest marker after a
// successful commit: the run is committed; readers find the manifest by
// listing until the next commit writes a marker.
var ErrTip = errors.New("write newest-manifest marker")

// CommitRun commits m, a format 2 manifest of the run's new entries whose
// Previous is st's Ref (st nil: the first manifest). It sets m.Total and
// m.NewestArchive, writes a checkpoint of the resulting state first when
// the policy asks for one (pinned by m.Checkpoint), then commits m as
// Commit does (claim, never overwrite, ErrConcurrent for the loser) and
// finally writes the newest-manifest marker. A marker that cannot be
// written is reported as ErrTip with the commit's Ref: the run is
// committed all the same. The commit's requests and bytes are added to
// st.Stats (to stats when st is nil).
func CommitRun(ctx context.Context, s store.Store, st *State, m *Manifest, stats *Stats) (*Ref, error) {
	m.Version = Version
	m.Total = st.Total() + int64(len(m.Entries))
	m.NewestArchive = newestArchive(st.NewestArchive(), m.Entries)
	if st != nil {
		stats = &st.Stats
	} else if stats == nil {
		stats = &Stats{}
	}
	if st.needsCheckpoint(len(m.Entries)) {
		ref, err := writeCheckpoint(ctx, s, st, m, stats)
		if err != nil {
			return nil, fmt.Errorf("commit manifest of run %s: %w", m.RunID, err)
		}
		m.Checkpoint = ref
	}
	ref, n, err := commit(ctx, s, m)
	if err != nil {
		return nil, err
	}
	stats.Requests += 2 // the claim and the manifest
	stats.BytesWritten += int64(n)
	if err := writeTip(ctx, s, m.Seq, m.RunID, stats); err != nil {
		return ref, fmt.Errorf("%w: %v", ErrTip, err)
	}
	return ref, nil
}

// writeCheckpoint writes the state st plus m.Entries as a checkpoint,
// rewriting only the leaves the new entries fall in, and returns its Ref.
func writeCheckpoint(ctx context.Context, s store.Store, st *State, m *Manifest, stats *Stats) (*Ref, error) {
	var add []Entry
	if st != nil {
		for _, p := range st.pending {
			add = append(add, p.Entries...)
		}
	}
	add = append(add, m.Entries...)
	sort.SliceStable(add, func(i, j int) bool { return add[i].Path < add[j].Path })
	cp := &Checkpoint{Version: Version, RunID: m.RunID, Previous: m.Previous}
	var leaves []Leaf
	switch {
	case st != nil && st.cp != nil && len(st.cp.Leaves) > 0:
		old := st.cp.Leaves
		groups := map[int][]Entry{}
		for _, e := range add {
			i := leafFor(old, e.Path)
			groups[i] = append(groups[i], e)
		}
		for i, l := range old {
			g, ok := groups[i]
			if !ok {
				leaves = append(leaves, l)
				continue
			}
			es, err := st.readLeaf(ctx, l)
			if err != nil {
				return nil, err
			}
			ls, err := putLeaves(ctx, s, mergeSorted(es, g), m.RunID, stats)
			if err != nil {
				return nil, err
			}
			leaves = append(leaves, ls...)
		}
	default:
		var base []Entry
		if st != nil && st.full != nil {
			base = append([]Entry(nil), st.full...)
			sort.SliceStable(base, func(i, j int) bool { return base[i].Path < base[j].Path })
		}
		ls, err := putLeaves(ctx, s, mergeSorted(base, add), m.RunID, stats)
		if err != nil {
			return nil, err
		}
		leaves = ls
	}
	cp.Leaves = leaves
	for _, l := range leaves {
		cp.Entries += int64(l.Count)
	}
	if cp.Entries != m.Total {
		return nil, fmt.Errorf("checkpoint holds %d entries, the state %d", cp.Entries, m.Total)
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	ref := &Ref{Key: checkpointPrefix + hex.EncodeToString(sum[:]) + ".json", SHA256: hex.EncodeToString(sum[:])}
	if err := putOnce(ctx, s, ref.Key, b, m.RunID, stats); err != nil {
		return nil, err
	}
	return ref, nil
}

// mergeSorted merges two path-sorted lists; for one path, a's entries
// (older) come first.
func mergeSorted(a, b []Entry) []Entry {
	out := make([]Entry, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		if len(b) == 0 || len(a) > 0 && a[0].Path <= b[0].Path {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return out
}

// putLeaves cuts sorted entries into leaves of at most maxLeaf entries
// (never splitting one path's versions) and writes each.
func putLeaves(ctx context.Context, s store.Store, es []Entry, runID string, stats *Stats) ([]Leaf, error) {
	var out []Leaf
	for len(es) > 0 {
		n := min(maxLeaf, len(es))
		for n < len(es) && es[n].Path == es[n-1].Path {
			n++
		}
		l, err := putLeaf(ctx, s, es[:n], runID, stats)
		if err != nil {
			return nil, err
		}
		out, es = append(out, l), es[n:]
	}
	return out, nil
}

func putLeaf(ctx context.Context, s store.Store, es []Entry, runID string, stats *Stats) (Leaf, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, e := range es {
		if err := enc.Encode(e); err != nil {
			return Leaf{}, err
		}
	}
	b := buf.Bytes()
	sum := sha256.Sum256(b)
	l := Leaf{First: es[0].Path, Last: es[len(es)-1].Path, Count: len(es), Key: indexPrefix + hex.EncodeToString(sum[:]) + ".jsonl", SHA256: hex.EncodeToString(sum[:])}
	return l, putOnce(ctx, s, l.Key, b, runID, stats)
}

// putOnce writes a content-addressed object; one already there under its
// hash is the same bytes (a reader checks the hash in any case).
func putOnce(ctx context.Context, s store.Store, key string, b []byte, runID string, stats *Stats) error {
	sum := sha256.Sum256(b)
	hexSum := hex.EncodeToString(sum[:])
	_, err := s.Put(ctx, key, store.Payload{At: bytes.NewReader(b), Size: int64(len(b)),
		CRC32C: crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)), SHA256: hexSum},
		store.Meta{SHA256: hexSum, Size: int64(len(b)), Path: key, RunID: runID})
	stats.Requests++
	if errors.Is(err, store.ErrExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	stats.BytesWritten += int64(len(b))
	return nil
}

// maxSeq bounds sequence numbers (12 digits in keys).
const maxSeq = 999999999999

func tipKey(seq int64, runID string) string {
	return fmt.Sprintf("%s%012d-%012d-%s", tipPrefix, maxSeq-seq, seq, runID)
}

// parseTip returns the manifest key a marker names.
func parseTip(key string) (string, int64, bool) {
	rest, ok := strings.CutPrefix(key, tipPrefix)
	if !ok || len(rest) < 27 || rest[12] != '-' || rest[25] != '-' {
		return "", 0, false
	}
	var inv, seq int64
	if _, err := fmt.Sscanf(rest[:25], "%012d-%012d", &inv, &seq); err != nil || inv != maxSeq-seq || seq < 1 {
		return "", 0, false
	}
	runID := rest[26:]
	if runID == "" || strings.ContainsAny(runID, "/\\") {
		return "", 0, false
	}
	return Key(seq, runID), seq, true
}

// writeTip marks seq as committed and removes the markers it supersedes
// where the destination allows deletes.
func writeTip(ctx context.Context, s store.Store, seq int64, runID string, stats *Stats) error {
	key := tipKey(seq, runID)
	if err := putOnce(ctx, s, key, []byte(Key(seq, runID)+"\n"), runID, stats); err != nil {
		return err
	}
	var older []string
	err := s.List(ctx, tipPrefix, func(o store.Object) error {
		if _, n, ok := parseTip(o.Key); ok && n < seq {
			older = append(older, o.Key)
		}
		return nil
	})
	stats.Requests++
	if err != nil {
		return err
	}
	for _, k := range older {
		// Best effort: the IAM policy in deploy/ grants no s3:DeleteObject,
		// and a marker left behind only sorts after the newest one (the
		// reader's LIST stops at its first key).
		if err := s.Delete(ctx, k); err != nil {
			break
		}
		stats.Requests++
	}
	return nil
}

var errStop = errors.New("stop listing")

// latestKey finds the newest manifest's key: the first marker under
// tipPrefix, confirmed by the absence of a claim on the next number (a
// run that committed without its marker, or one committing now, sends
// the search to the listing of every manifest, as does a destination
// written before markers).
func latestKey(ctx context.Context, s store.Reader, stats *Stats) (string, error) {
	var key string
	var seq int64
	err := s.List(ctx, tipPrefix, func(o store.Object) error {
		if k, n, ok := parseTip(o.Key); ok {
			key, seq = k, n
			return errStop
		}
		return nil
	})
	stats.Requests++
	if err != nil && !errors.Is(err, errStop) {
		return "", fmt.Errorf("list newest-manifest markers: %w", err)
	}
	if key != "" {
		next := false
		err := s.List(ctx, claimKey(seq+1), func(o store.Object) error {
			next = o.Key == claimKey(seq+1)
			return nil
		})
		stats.Requests++
		if err != nil {
			return "", fmt.Errorf("list sequence claims: %w", err)
		}
		if !next {
			return key, nil
		}
	}
	return lastListed(ctx, s, stats)
}

func lastListed(ctx context.Context, s store.Reader, stats *Stats) (string, error) {
	keys, err := List(ctx, s)
	stats.Requests += 1 + len(keys)/1000
	if err != nil || len(keys) == 0 {
		return "", err
	}
	return keys[len(keys)-1], nil
}

// CheckCheckpoint checks that the checkpoint m pins holds exactly the
// state of m's predecessor plus m's entries, in order: a checkpoint that
// drops, alters, adds or reorders an entry, or that belongs to another
// manifest, fails with ErrInvalid. Leaves the checkpoint shares with the
// predecessor's checkpoint are not read again (they are the same bytes);
// memory holds one leaf at a time and the deltas since that checkpoint.
// m must have been read whole (Load).
func CheckCheckpoint(ctx context.Context, s store.Reader, m *Manifest) error {
	if m.Checkpoint == nil {
		return nil
	}
	st := &State{s: s, leaves: map[string][]Entry{}}
	cp, err := st.readCheckpoint(ctx, *m.Checkpoint)
	if err != nil {
		return err
	}
	switch {
	case cp.RunID != m.RunID || !sameRef(cp.Previous, m.Previous):
		return fmt.Errorf("%w: checkpoint %s is the state of run %s's manifest, not of run %s's", ErrInvalid, m.Checkpoint.Key, cp.RunID, m.RunID)
	case cp.Entries != m.Total:
		return fmt.Errorf("%w: checkpoint %s holds %d entries, run %s's manifest records %d", ErrInvalid, m.Checkpoint.Key, cp.Entries, m.RunID, m.Total)
	}
	var prev *State
	if m.Previous != nil {
		if prev, err = Open(ctx, s, m.Previous.Key); err != nil {
			return err
		}
	}
	// What the predecessor's state holds beyond its checkpoint's leaves,
	// plus this run's entries: the expected changes.
	var extra []Entry
	var oldLeaves []Leaf
	if prev != nil {
		extra = append(extra, prev.full...)
		for _, p := range prev.pending {
			extra = append(extra, p.Entries...)
		}
		if prev.cp != nil {
			oldLeaves = prev.cp.Leaves
		}
	}
	extra = append(extra, m.Entries...)
	sort.SliceStable(extra, func(i, j int) bool { return extra[i].Path < extra[j].Path })
	removed, added := changedLeaves(oldLeaves, cp.Leaves)
	want := &leafCursor{st: st, leaves: removed}
	got := &leafCursor{st: st, leaves: added}
	for n := 0; ; n++ {
		g, gok, err := got.next(ctx)
		if err != nil {
			return err
		}
		w, wok, err := want.next(ctx)
		if err != nil {
			return err
		}
		// Merge the old leaves' next entry with the next expected change.
		if len(extra) > 0 && (!wok || extra[0].Path < w.Path) {
			want.unread(w, wok)
			w, wok, extra = extra[0], true, extra[1:]
		}
		if !gok && !wok {
			return nil
		}
		switch {
		case !gok:
			return fmt.Errorf("%w: checkpoint %s of run %s leaves out %s (%s), which the state before it and the run's entries hold", ErrInvalid, m.Checkpoint.Key, m.RunID, w.Path, w.Key)
		case !wok:
			return fmt.Errorf("%w: checkpoint %s of run %s holds %s (%s), which neither the state before it nor the run's entries hold", ErrInvalid, m.Checkpoint.Key, m.RunID, g.Path, g.Key)
		case g.Path > w.Path:
			return fmt.Errorf("%w: checkpoint %s of run %s leaves out %s (%s), which the state before it and the run's entries hold", ErrInvalid, m.Checkpoint.Key, m.RunID, w.Path, w.Key)
		case g.Path < w.Path:
			return fmt.Errorf("%w: checkpoint %s of run %s holds %s (%s), which neither the state before it nor the run's entries hold", ErrInvalid, m.Checkpoint.Key, m.RunID, g.Path, g.Key)
		case !sameEntry(g, w):
			return fmt.Errorf("%w: checkpoint %s of run %s differs from the state before it plus the run's entries at %s (entry %d of its changed leaves)", ErrInvalid, m.Checkpoint.Key, m.RunID, w.Path, n+1)
		}
	}
}

// changedLeaves are the leaves of old that cur no longer has and those
// cur adds: the shared ones hold the same entries, so only these are read
// to check a checkpoint against its predecessor.
func changedLeaves(old, cur []Leaf) (removed, added []Leaf) {
	kept := map[string]bool{}
	for _, l := range cur {
		kept[l.Key] = true
	}
	shared := map[string]bool{}
	for _, l := range old {
		if kept[l.Key] {
			shared[l.Key] = true
		} else {
			removed = append(removed, l)
		}
	}
	for _, l := range cur {
		if !shared[l.Key] {
			added = append(added, l)
		}
	}
	return removed, added
}

func sameEntry(a, b Entry) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// leafCursor reads the entries of leaves in order, one leaf at a time.
type leafCursor struct {
	st     *State
	leaves []Leaf
	buf    []Entry
	back   *Entry
}

func (c *leafCursor) next(ctx context.Context) (Entry, bool, error) {
	if c.back != nil {
		e := *c.back
		c.back = nil
		return e, true, nil
	}
	for len(c.buf) == 0 {
		if len(c.leaves) == 0 {
			return Entry{}, false, nil
		}
		es, err := c.st.readLeaf(ctx, c.leaves[0])
		if err != nil {
			return Entry{}, false, err
		}
		delete(c.st.leaves, c.leaves[0].Key)
		c.buf, c.leaves = es, c.leaves[1:]
	}
	e := c.buf[0]
	c.buf = c.buf[1:]
	return e, true, nil
}

func (c *leafCursor) unread(e Entry, ok bool) {
	if ok {
		c.back = &e
	}
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
