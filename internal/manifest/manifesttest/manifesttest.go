// Package manifesttest builds format 2 manifest histories for tests and
// benchmarks, as net/http/httptest builds servers: a local destination
// whose entries are committed through manifest.CommitRun in runs of a
// fixed size (so the state is a checkpoint of several leaves plus
// deltas), each object written beside at its key.
//
// It owns only the building of such histories. It must not be imported by
// anything shipped in the binary (tests and tools/benchscale only), and it
// checks nothing it is given: that is manifest's job.
package manifesttest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/store"
)

// Entry is an entry for body, stored as it is under its path: Path and
// Key are p, and Size, StoredSize and SHA256 are body's. The caller sets
// the rest (RunID, Chain, another Key).
func Entry(p, kind string, mtime time.Time, body []byte) manifest.Entry {
	sum := sha256.Sum256(body)
	return manifest.Entry{Path: p, Key: p, Kind: kind, Size: int64(len(body)), StoredSize: int64(len(body)),
		MTime: mtime, SHA256: hex.EncodeToString(sum[:])}
}

// History is a local destination being filled with a manifest history.
// Its zero value is not usable: make one with NewHistory.
type History struct {
	Dir   string       // the destination directory
	Store *store.Local // the destination, as the code under test opens it
	// PerRun is how many entries a run holds: Add commits the run it
	// fills.
	PerRun int
	// RunID names the seq-th run committed (seq from 1); nil: "run-SEQ".
	RunID func(seq int) string
	// StartsRecorded is set on every manifest (as sync sets it).
	StartsRecorded bool

	state *manifest.State
	run   []manifest.Entry
	seq   int
}

// NewHistory opens the local directory dir as an empty destination whose
// runs hold perRun entries.
func NewHistory(dir string, perRun int) (*History, error) {
	s, err := store.NewLocal(dir)
	if err != nil {
		return nil, err
	}
	return &History{Dir: dir, Store: s, PerRun: perRun}, nil
}

// NextRunID is the id of the run the next Add joins.
func (h *History) NextRunID() string {
	if h.RunID == nil {
		return fmt.Sprintf("run-%d", h.seq+1)
	}
	return h.RunID(h.seq + 1)
}

// Add writes body at e.Key under Dir and adds e to the current run,
// committing the run when it holds PerRun entries.
func (h *History) Add(ctx context.Context, e manifest.Entry, body []byte) error {
	p := filepath.Join(h.Dir, filepath.FromSlash(e.Key))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	if err := os.WriteFile(p, body, 0o640); err != nil {
		return err
	}
	if h.run = append(h.run, e); len(h.run) == h.PerRun {
		return h.Commit(ctx)
	}
	return nil
}

// Commit commits the entries added since the last commit as one run,
// chained to the state the previous run left; with none it does nothing.
func (h *History) Commit(ctx context.Context) error {
	if len(h.run) == 0 {
		return nil
	}
	m := &manifest.Manifest{Seq: 1, RunID: h.NextRunID(), Created: time.Now().UTC(), Entries: h.run, StartsRecorded: h.StartsRecorded}
	if h.state != nil {
		m.Seq, m.Previous = h.state.Head.Seq+1, h.state.Ref
	}
	if _, err := manifest.CommitRun(ctx, h.Store, h.state, m, nil); err != nil {
		return fmt.Errorf("commit run %s: %w", m.RunID, err)
	}
	st, err := manifest.OpenLatest(ctx, h.Store)
	if err != nil {
		return fmt.Errorf("open the state run %s left: %w", m.RunID, err)
	}
	h.state, h.run = st, nil
	h.seq++
	return nil
}
