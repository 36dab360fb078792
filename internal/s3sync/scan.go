package s3sync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/xroad-archiver/archiver/internal/xroad"
)

// File is a shippable file found by Scan.
type File struct {
	Rel   string // slash path relative to the source
	Kind  xroad.Kind
	Size  int64
	MTime time.Time
}

// ScanResult is what Scan found.
type ScanResult struct {
	Files   []File // finished archives and stable backups, oldest first
	Waiting []File // backups still inside the quiet period
	Ignored int    // files that are not shipped (working files, unknown names)
	Skipped []Skip // entries that look shippable but are not regular files
}

// Skip is a candidate Scan refused.
type Skip struct {
	Rel    string `json:"path"`
	Reason string `json:"reason"`
}

// Scan lists the source's top level and its backup/ directory. It never
// follows symbolic links: a symlink named like an archive is reported, not
// shipped, so nothing outside the source can be read through it. Backups
// modified within quiet of now are returned as Waiting: X-Road writes them
// in place, so a recent mtime may mean a half-written file.
func Scan(dir string, now time.Time, quiet time.Duration) (ScanResult, error) {
	var res ScanResult
	st, err := os.Stat(dir)
	if err != nil {
		return res, fmt.Errorf("source: %w", err)
	}
	if !st.IsDir() {
		return res, fmt.Errorf("source %s is not a directory", dir)
	}
	if err := scanDir(dir, "", now, quiet, &res); err != nil {
		return res, err
	}
	err = scanDir(filepath.Join(dir, xroad.BackupDir), xroad.BackupDir+"/", now, quiet, &res)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, err
	}
	sort.SliceStable(res.Files, func(i, j int) bool {
		if !res.Files[i].MTime.Equal(res.Files[j].MTime) {
			return res.Files[i].MTime.Before(res.Files[j].MTime)
		}
		return res.Files[i].Rel < res.Files[j].Rel
	})
	return res, nil
}

func scanDir(dir, relPrefix string, now time.Time, quiet time.Duration, res *ScanResult) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read source directory: %w", err)
	}
	for _, e := range ents {
		rel := relPrefix + e.Name()
		if e.IsDir() {
			continue
		}
		kind := xroad.Classify(rel)
		if kind == xroad.KindIgnored {
			res.Ignored++
			continue
		}
		if !e.Type().IsRegular() {
			res.Skipped = append(res.Skipped, Skip{Rel: rel, Reason: "not a regular file (" + e.Type().String() + "); symlinks are never followed"})
			continue
		}
		info, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since ReadDir
			}
			res.Skipped = append(res.Skipped, Skip{Rel: rel, Reason: err.Error()})
			continue
		}
		f := File{Rel: rel, Kind: kind, Size: info.Size(), MTime: info.ModTime()}
		if kind == xroad.KindBackup && now.Sub(f.MTime) < quiet {
			res.Waiting = append(res.Waiting, f)
			continue
		}
		res.Files = append(res.Files, f)
	}
	return nil
}
