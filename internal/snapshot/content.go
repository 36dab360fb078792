package snapshot

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
	"io/fs"
	"os"
	"path/filepath"

	"github.com/xroad-archiver/archiver/internal/content"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/xroad"
)

// The content-manifest format is package content's; snapshot, which
// writes the manifests, keeps these names for its callers.
type (
	ContentManifest = content.Manifest
	ContentFile     = content.File
	Skipped         = content.Skipped
	TarInfo         = content.TarInfo
)

// ContentKey is where a volume's content manifest lives in the store.
func ContentKey(v Volume, runID string) string {
	return fmt.Sprintf("volumes/%s/%s/%s.json", v.Namespace, v.PVC, runID)
}

// TarKey is where a hostPath volume's tar lives in the store.
func TarKey(v Volume, runID string) string {
	return fmt.Sprintf("volumes/%s/%s/%s.tar.zst", v.Namespace, v.PVC, runID)
}

// ScanContent lists the regular files under root with their SHA-256
// (symlinks and other special files are skipped, never followed). Kind
// marks X-Road archives and backups, which never change once written.
// Entries archiver's user may not read are left out (see Scan).
func ScanContent(ctx context.Context, root string) ([]ContentFile, error) {
	files, _, err := Scan(ctx, root)
	return files, err
}

// Scan is ScanContent that also returns what it skipped: a file or
// directory it may not read (permission denied, such as the root-only
// lost+found of a fresh ext4 volume) is skipped with its reason instead
// of failing the whole scan. Any other error fails it.
func Scan(ctx context.Context, root string) ([]ContentFile, []Skipped, error) {
	var out []ContentFile
	var skipped []Skipped
	rel := func(p string) string {
		r, _ := filepath.Rel(root, p)
		return filepath.ToSlash(r)
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrPermission) && p != root {
				skipped = append(skipped, Skipped{Path: rel(p), Reason: err.Error()})
				if d != nil && d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		f := ContentFile{Path: rel(p), Size: info.Size(), MTime: info.ModTime().UTC()}
		if k := xroad.Classify(f.Path); k != xroad.KindIgnored {
			f.Kind = k.String()
		}
		if f.SHA256, err = fileSHA256(p); err != nil {
			if errors.Is(err, fs.ErrPermission) {
				skipped = append(skipped, Skipped{Path: f.Path, Reason: err.Error()})
				return nil
			}
			return err
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, skipped, fmt.Errorf("scan %s: %w", root, err)
	}
	return out, skipped, nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// PutContent writes a content manifest to the store (SSE-KMS applies).
func PutContent(ctx context.Context, s store.Store, key string, m *ContentManifest) error {
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	_, err = s.Put(ctx, key, store.Payload{At: bytes.NewReader(b), Size: int64(len(b)), CRC32C: crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)),
		SHA256: hex.EncodeToString(sum[:])}, store.Meta{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b)), MTime: m.Created, Path: key, RunID: m.RunID})
	if err != nil {
		return fmt.Errorf("write content manifest %s: %w", key, err)
	}
	return nil
}

// LoadContent reads a content manifest.
func LoadContent(ctx context.Context, s store.Reader, key string) (*ContentManifest, error) {
	rc, _, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var m ContentManifest
	if err := json.NewDecoder(io.LimitReader(rc, 256<<20)).Decode(&m); err != nil {
		return nil, fmt.Errorf("content manifest %s: %w", key, err)
	}
	return &m, nil
}
