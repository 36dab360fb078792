package s3sync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/store"
)

// PruneOptions say which local files may be deleted once archived.
type PruneOptions struct {
	// MinAge: archived files whose mtime is older than this are deleted.
	MinAge time.Duration
	// FreePercent: while the source file system has less free space than
	// this percentage, the oldest archived files are deleted too.
	FreePercent float64
	// LockMode, when set, also requires the object to be under Object Lock
	// retention in this mode (GOVERNANCE or COMPLIANCE) until after now.
	LockMode string
	// Encrypted requires the object to report server-side encryption
	// (true for S3 destinations).
	Encrypted bool
}

func (p PruneOptions) enabled() bool { return p.MinAge > 0 || p.FreePercent > 0 }

type pruneCandidate struct {
	file  File
	entry manifest.Entry
}

// pruneCandidates picks, oldest first, the archived files the rules select.
func pruneCandidates(o Options, files []File, ix *manifest.Index, now time.Time) ([]pruneCandidate, error) {
	var archived []pruneCandidate
	for _, f := range files {
		e, ok := ix.Latest(f.Rel)
		if !ok || e.Size != f.Size || !e.MTime.Equal(f.MTime) {
			continue // not archived as it is now
		}
		archived = append(archived, pruneCandidate{f, e})
	}
	sort.SliceStable(archived, func(i, j int) bool { return archived[i].file.MTime.Before(archived[j].file.MTime) })
	var need int64
	if o.Prune.FreePercent > 0 {
		var fs syscall.Statfs_t
		if err := syscall.Statfs(o.Source, &fs); err != nil {
			return nil, fmt.Errorf("free space of %s: %w", o.Source, err)
		}
		total := int64(fs.Blocks) * int64(fs.Bsize) // Bsize is uint32 on some systems
		free := int64(fs.Bavail) * int64(fs.Bsize)
		need = int64(o.Prune.FreePercent/100*float64(total)) - free
	}
	var out []pruneCandidate
	for _, c := range archived {
		old := o.Prune.MinAge > 0 && now.Sub(c.file.MTime) >= o.Prune.MinAge
		if old || need > 0 {
			out = append(out, c)
			need -= c.file.Size
		}
	}
	return out, nil
}

// prune deletes candidates whose archived copy is proven: the local bytes
// are hashed again, a HEAD must show the same SHA-256 and size (and
// encryption and retention when required), and the file must not have
// changed in between. A file that fails the proof is kept and reported.
func prune(ctx context.Context, o Options, files []File, ix *manifest.Index, res *Result) error {
	cands, err := pruneCandidates(o, files, ix, o.Now())
	if err != nil {
		return err
	}
	for _, c := range cands {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := pruneOne(ctx, o, c)
		switch {
		case err == nil:
			res.Pruned.add(c.file.Size)
			o.Log.Info("pruned local file", "path", c.file.Rel, "key", c.entry.Key, "sha256", c.entry.SHA256)
		case store.IsFatal(err):
			return err
		default:
			res.Failed = append(res.Failed, Failure{Path: c.file.Rel, Error: "not pruned: " + err.Error()})
			o.Log.Warn("kept local file: archived copy not proven", "path", c.file.Rel, "error", err)
		}
	}
	return nil
}

// ErrNotProven means the archived copy does not match the local file.
var ErrNotProven = errors.New("archived copy not proven")

func pruneOne(ctx context.Context, o Options, c pruneCandidate) error {
	path := filepath.Join(o.Source, filepath.FromSlash(c.file.Rel))
	fh, st, err := openSource(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	d, err := hashFile(ctx, fh, st.Size())
	if err != nil {
		return err
	}
	h, err := o.Store.Head(ctx, c.entry.Key)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %s is missing", ErrNotProven, c.entry.Key)
		}
		return err
	}
	switch {
	case h.Meta.SHA256 != d.SHA256:
		return fmt.Errorf("%w: %s has SHA-256 %q, local file %s", ErrNotProven, c.entry.Key, h.Meta.SHA256, d.SHA256)
	case h.Meta.Size != d.Size:
		return fmt.Errorf("%w: %s records size %d, local file %d", ErrNotProven, c.entry.Key, h.Meta.Size, d.Size)
	case h.Meta.Encoding == "" && h.Size != d.Size:
		return fmt.Errorf("%w: %s holds %d bytes, local file %d", ErrNotProven, c.entry.Key, h.Size, d.Size)
	case o.Prune.Encrypted && h.Encryption == "":
		return fmt.Errorf("%w: %s is not encrypted", ErrNotProven, c.entry.Key)
	case o.Prune.LockMode != "" && (h.LockMode != o.Prune.LockMode || !h.RetainUntil.After(o.Now())):
		return fmt.Errorf("%w: %s is not under %s retention (mode %q until %s)", ErrNotProven, c.entry.Key, o.Prune.LockMode, h.LockMode, h.RetainUntil)
	}
	if err := unchanged(fh, st); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}
