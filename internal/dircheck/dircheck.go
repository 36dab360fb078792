// Package dircheck compares a restored directory with the content manifest
// recorded when the volume was backed up. It is the check the verifier pod
// of a restore drill runs (archiver verify-dir): every recorded file must be
// present with the same SHA-256, plain message-log archives must still be
// valid zips whose X-Road hash chain recomputes, and extra files are fine.
//
// CheckDir is the whole of what the pod does: load the manifest, find the
// directory (an AWS Backup recovery directory too), check it; the result
// writes itself as text and as the pod's compact termination message.
//
// It only reads (it writes nothing but the termination message it is asked
// for): files are opened through an os.Root, so a symlink in the restored
// data can never make it read outside the directory. It must not import
// snapshot, store, manifest or any SDK: the verifier pod needs none.
package dircheck

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/xroad-archiver/archiver/internal/content"
	"github.com/xroad-archiver/archiver/internal/gpg"
	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/parallel"
	"github.com/xroad-archiver/archiver/internal/xroad"
)

// ErrFailed means the directory does not hold what the manifest recorded.
var ErrFailed = outcome.VerificationFailed("restored files do not match the backup manifest")

// Problem kinds.
const (
	Missing    = "missing"     // recorded, not restored
	Corrupted  = "corrupted"   // different SHA-256 or size
	BadArchive = "bad-archive" // not a valid zip, or its hash chain does not recompute
	ChainBreak = "chain-break" // a group's chain does not connect
	Unreadable = "unreadable"  // present but cannot be read (permissions, I/O error)
	NotAFile   = "not-a-file"  // a directory or symlink where a file was recorded
)

// Problem is one file that does not match.
type Problem struct {
	Path   string `json:"path"`
	Kind   string `json:"kind"`
	Detail string `json:"detail,omitempty"`
}

// Result is the outcome of a check. It is what the verifier pod reports
// through its termination message (see Compact).
type Result struct {
	Status   outcome.Status `json:"status"` // ok or failed
	Dir      string         `json:"dir,omitempty"`
	Expected int            `json:"expected"`
	Verified int            `json:"verified"`
	Archives int            `json:"archives_chain_checked"`
	// Decrypted counts .zip.gpg archives decrypted, signature- and
	// chain-checked with the keys given; IntegrityOnly those checked
	// without keys (SHA-256 and OpenPGP form only).
	Decrypted     int `json:"encrypted_decrypted,omitempty"`
	IntegrityOnly int `json:"encrypted_integrity_only,omitempty"`
	// Chains says where each group's chain on the volume begins.
	Chains  []xroad.Start `json:"chains,omitempty"`
	Changed int           `json:"changed_after_backup,omitempty"`
	Bytes   int64         `json:"bytes"`
	Seconds float64       `json:"seconds"`
	// RestoreSeconds is how long restoring from S3 took (verify-dir
	// --restore-from), before the check.
	RestoreSeconds float64   `json:"restore_seconds,omitempty"`
	RunID          string    `json:"run_id,omitempty"` // the sync run whose manifest was restored
	Problems       []Problem `json:"problems,omitempty"`
	// Omitted counts problems left out of a compacted result.
	Omitted int `json:"problems_omitted,omitempty"`
}

// Err is nil for a passing result and wraps ErrFailed otherwise, naming
// the first problems.
func (r *Result) Err() error {
	if r.Status == outcome.StatusOK {
		return nil
	}
	var b strings.Builder
	for i, p := range r.Problems {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more", len(r.Problems)-5+r.Omitted)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s %s", p.Path, p.Kind)
		if p.Detail != "" {
			fmt.Fprintf(&b, " (%s)", p.Detail)
		}
	}
	return fmt.Errorf("%d of %d files: %w: %s", len(r.Problems)+r.Omitted, r.Expected, ErrFailed, b.String())
}

// Check reads every file of files below root. A recorded file that is not
// an X-Road archive or backup, restored with a newer mtime and different
// content, changed after the manifest was written and before the snapshot
// was taken (a live file); it is counted, not failed. Archives and backups
// never change once written, so any difference there is a failure.
func Check(ctx context.Context, root string, files []content.File) (*Result, error) {
	return CheckN(ctx, root, files, DefaultWorkers)
}

// DefaultWorkers files are read at once: a volume restored from an EBS
// snapshot loads its blocks lazily from S3, and parallel reads hide that
// latency (as they use more than one core for hashing).
const DefaultWorkers = 4

// CheckN is Check with workers files read at once.
func CheckN(ctx context.Context, root string, files []content.File, workers int) (*Result, error) {
	return CheckWith(ctx, root, files, Options{Workers: workers})
}

// Options tune CheckWith.
type Options struct {
	Workers int // files read at once (DefaultWorkers when 0)
	// Keys decrypt .zip.gpg archives and hold the accepted signers; nil
	// checks them as well-formed OpenPGP only.
	Keys    *gpg.Keys
	TempDir string // where decrypted archives are spooled (unlinked at once)
}

// CheckWith is Check with options. Besides each file, it checks each
// group's evidence chain across the archives on the volume: the group's
// earliest archive may name a predecessor that is not on it (pruned after
// shipping, or older than the volume), any other must connect.
func CheckWith(ctx context.Context, root string, files []content.File, o Options) (*Result, error) {
	workers := o.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	start := time.Now()
	if len(files) == 0 {
		return nil, errors.New("the manifest lists no files: nothing to verify (was the volume mounted when it was backed up?)")
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open restored directory: %w", err)
	}
	defer r.Close()
	res := &Result{Expected: len(files)}
	var mu sync.Mutex
	links := map[string]xroad.Link{}
	err = parallel.ForEach(ctx, files, workers, func(ctx context.Context, _ int, f content.File) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, n, link, err := o.checkOne(r, f)
		mu.Lock()
		defer mu.Unlock()
		res.Bytes += n
		if link == nil && p != nil && (f.Kind == xroad.KindArchive.String() || f.Kind == xroad.KindEncryptedArchive.String()) {
			// Named as a problem already: its successor is matched by
			// name and Z only, so the break is not reported twice.
			base := path.Base(f.Path)
			an, _ := xroad.ParseArchiveName(base)
			link = &xroad.Link{Name: base, Group: an.Group, First: an.First, LastDigest: an.Digest}
		}
		if link != nil {
			links[link.Name] = *link
		}
		switch {
		case err != nil:
			return err
		case p == nil:
			res.Verified++
			switch {
			case f.Kind == xroad.KindArchive.String():
				res.Archives++
			case f.Kind == xroad.KindEncryptedArchive.String() && o.Keys != nil:
				res.Archives++
				res.Decrypted++
			case f.Kind == xroad.KindEncryptedArchive.String():
				res.IntegrityOnly++
			}
		case p.Kind == "changed":
			res.Changed++
			res.Verified++
		default:
			res.Problems = append(res.Problems, *p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.continuity(files, links)
	sort.SliceStable(res.Problems, func(i, j int) bool { return res.Problems[i].Path < res.Problems[j].Path })
	res.Status = outcome.StatusOK
	if len(res.Problems) > 0 {
		res.Status = outcome.StatusFailed
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// checkOne returns nil when f is restored as recorded, and the chain link
// of an archive whose chain it read; an error only for a context
// cancellation or a spool that cannot be written.
func (o Options) checkOne(r *os.Root, f content.File) (*Problem, int64, *xroad.Link, error) {
	name := path.Clean(f.Path)
	if !fs.ValidPath(name) {
		return &Problem{Path: f.Path, Kind: Missing, Detail: "path in the manifest is not a relative path"}, 0, nil, nil
	}
	info, err := r.Lstat(filepath.FromSlash(name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Problem{Path: f.Path, Kind: Missing}, 0, nil, nil
	case err != nil:
		return &Problem{Path: f.Path, Kind: Unreadable, Detail: errText(err)}, 0, nil, nil
	case !info.Mode().IsRegular():
		return &Problem{Path: f.Path, Kind: NotAFile, Detail: info.Mode().Type().String()}, 0, nil, nil
	}
	immutable := f.Kind != ""
	newer := info.ModTime().After(f.MTime.Add(time.Second))
	if info.Size() != f.Size && !(newer && !immutable) {
		return &Problem{Path: f.Path, Kind: Corrupted, Detail: fmt.Sprintf("size %d, recorded %d", info.Size(), f.Size)}, 0, nil, nil
	}
	if f.SHA256 == "" { // manifests before every file was hashed
		return nil, 0, nil, nil
	}
	fh, err := r.Open(filepath.FromSlash(name))
	if err != nil {
		return &Problem{Path: f.Path, Kind: Unreadable, Detail: errText(err)}, 0, nil, nil
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return &Problem{Path: f.Path, Kind: Unreadable, Detail: errText(err)}, n, nil, nil
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		if newer && !immutable {
			return &Problem{Path: f.Path, Kind: "changed"}, n, nil, nil
		}
		return &Problem{Path: f.Path, Kind: Corrupted, Detail: fmt.Sprintf("sha256 %s…, recorded %s…", got[:12], f.SHA256[:min(12, len(f.SHA256))])}, n, nil, nil
	}
	base := path.Base(name)
	switch f.Kind {
	case xroad.KindArchive.String():
		ac, err := xroad.CheckArchive(fh, n, base)
		if err != nil {
			return &Problem{Path: f.Path, Kind: BadArchive, Detail: errText(err)}, n, nil, nil
		}
		l := xroad.LinkOf(base, ac.Link)
		return nil, n, &l, nil
	case xroad.KindEncryptedArchive.String():
		p, l, err := o.checkEncrypted(fh, f, base)
		return p, n, l, err
	}
	return nil, n, nil, nil
}

// checkEncrypted checks a .zip.gpg archive, read from its start: without
// keys its OpenPGP form, with them its decryption and signer, then the
// decrypted archive like a plain one (spooled to an unlinked file).
func (o Options) checkEncrypted(fh *os.File, f content.File, base string) (*Problem, *xroad.Link, error) {
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return &Problem{Path: f.Path, Kind: Unreadable, Detail: errText(err)}, nil, nil
	}
	if o.Keys == nil {
		if err := gpg.CheckFraming(fh); err != nil {
			return &Problem{Path: f.Path, Kind: BadArchive, Detail: err.Error()}, nil, nil
		}
		an, _ := xroad.ParseArchiveName(base)
		return nil, &xroad.Link{Name: base, Group: an.Group, First: an.First, LastDigest: an.Digest}, nil
	}
	spool, err := os.CreateTemp(o.TempDir, "archiver-verify-dir-*")
	if err != nil {
		return nil, nil, fmt.Errorf("spool decrypted archive: %w", err)
	}
	os.Remove(spool.Name()) // unlinked: gone when closed or when the process dies
	defer spool.Close()
	if _, err := o.Keys.Decrypt(fh, spool); err != nil {
		if !errors.Is(err, gpg.ErrMessage) {
			return nil, nil, fmt.Errorf("decrypt %s: %w", f.Path, err)
		}
		return &Problem{Path: f.Path, Kind: BadArchive, Detail: err.Error()}, nil, nil
	}
	size, err := spool.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, nil, fmt.Errorf("spool decrypted archive: %w", err)
	}
	ac, err := xroad.CheckArchive(spool, size, base)
	if err != nil {
		return &Problem{Path: f.Path, Kind: BadArchive, Detail: "decrypted and signed by an accepted key, but: " + errText(err)}, nil, nil
	}
	l := xroad.LinkOf(base, ac.Link)
	return nil, &l, nil
}

// continuity adds a chain-break problem for every archive whose
// predecessor is not on the volume, unless it is its group's earliest
// archive in the manifest and that predecessor is not in the manifest
// either (the volume's history starts there), and records chain starts.
func (r *Result) continuity(files []content.File, links map[string]xroad.Link) {
	inManifest := map[string]bool{}
	var all []xroad.Link
	for _, f := range files {
		if f.Kind != xroad.KindArchive.String() && f.Kind != xroad.KindEncryptedArchive.String() {
			continue
		}
		base := path.Base(f.Path)
		inManifest[base] = true
		an, err := xroad.ParseArchiveName(base)
		if err != nil {
			continue
		}
		all = append(all, xroad.Link{Name: base, Group: an.Group, First: an.First})
	}
	earliest := xroad.Earliest(all)
	var ls []xroad.Link
	for _, l := range links {
		ls = append(ls, l)
	}
	c := xroad.CheckContinuity(ls, func(l xroad.Link) bool {
		return !inManifest[l.PrevArchive] && earliest[l.Group] == l.Name
	})
	r.Chains = c.Starts
	for _, b := range c.Breaks {
		r.Problems = append(r.Problems, Problem{Path: b.Before, Kind: ChainBreak, Detail: b.String()})
	}
}

// errText drops the path the os package puts in front: the problem names it.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// MaxMessage is the most a container's termination message may hold.
const MaxMessage = 4096

// Compact encodes r in at most limit bytes, dropping problems from the end
// (and counting them in Omitted) until it fits.
func (r *Result) Compact(limit int) ([]byte, error) {
	c := *r
	for {
		b, err := json.Marshal(&c)
		if err != nil {
			return nil, err
		}
		if len(b) <= limit || len(c.Problems) == 0 {
			return b, nil
		}
		drop := max(1, len(c.Problems)/4)
		c.Problems = c.Problems[:len(c.Problems)-drop]
		c.Omitted += drop
	}
}

// FindRecoveryDir returns the directory directly below root whose name
// matches pattern (AWS Backup's aws-backup-restore_<datetime>) and that
// was written since the restore job started, joined with sub. A restore
// job makes a new directory on every attempt; when more than one appeared
// since (another restore of the same file system running), it refuses to
// guess. A zero since accepts any, newest name first. Directories in
// exclude (kept recoveries in use, whose mtime moves) are never chosen.
func FindRecoveryDir(root, pattern, sub string, since time.Time, exclude ...string) (string, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return "", fmt.Errorf("look for the recovery directory: %w", err)
	}
	var names []string
	for _, e := range ents {
		if ok, _ := path.Match(pattern, e.Name()); !ok || !e.IsDir() || slices.Contains(exclude, e.Name()) {
			continue
		}
		if !since.IsZero() {
			info, err := e.Info()
			// Two minutes of slack for clocks of the file system and AWS.
			if err != nil || info.ModTime().Before(since.Add(-2*time.Minute)) {
				continue
			}
		}
		names = append(names, e.Name())
	}
	switch {
	case len(names) == 0:
		return "", fmt.Errorf("no directory matching %q written since %s in the restored file system", pattern, since.UTC().Format(time.RFC3339))
	case len(names) > 1 && !since.IsZero():
		return "", fmt.Errorf("%d directories matching %q were written since the restore job started (%s): another restore is writing to this file system; refusing to guess", len(names), pattern, strings.Join(names, ", "))
	}
	sort.Strings(names)
	return path.Join(names[len(names)-1], path.Clean("/" + sub)[1:]), nil
}
