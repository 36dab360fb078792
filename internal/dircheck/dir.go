package dircheck

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/xroad-archiver/archiver/internal/gpg"
)

// DirOptions say which directory CheckDir checks against which manifest
// (archiver verify-dir's flags, and the verifier pod's arguments).
type DirOptions struct {
	Dir      string // the restored directory (the volume's root)
	Manifest string // content manifest file (JSON or zstd-compressed JSON)
	// RecoveryGlob, when set, checks the newest directory below Dir that
	// matches it instead (FindRecoveryDir, with Since, Exclude and Sub).
	RecoveryGlob string
	Since        time.Time
	Exclude      []string
	Sub          string
	Keys         *gpg.Keys // nil: encrypted archives are checked for integrity only
}

// CheckDir loads the manifest, finds the directory (a recovery directory
// below Dir when RecoveryGlob is set) and checks it (CheckWith). The
// result's Dir names the recovery directory relative to o.Dir.
func CheckDir(ctx context.Context, o DirOptions) (*Result, error) {
	m, err := LoadManifest(o.Manifest)
	if err != nil {
		return nil, err
	}
	root, rel := o.Dir, ""
	if o.RecoveryGlob != "" {
		if rel, err = FindRecoveryDir(o.Dir, o.RecoveryGlob, o.Sub, o.Since, o.Exclude...); err != nil {
			return nil, err
		}
		root = filepath.Join(o.Dir, filepath.FromSlash(rel))
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, fmt.Errorf("restored directory %s: %w", root, err)
	}
	res, err := CheckWith(ctx, root, m.Files, Options{Keys: o.Keys})
	if err != nil {
		return nil, err
	}
	res.Dir = rel
	return res, nil
}

// WriteMessage writes r compacted to MaxMessage bytes to path: the
// verifier pod's termination message.
func (r *Result) WriteMessage(path string) error {
	b, err := r.Compact(MaxMessage)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
