package dircheck

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xroad-archiver/archiver/internal/content"
	"github.com/xroad-archiver/archiver/internal/outcome"
)

// TestCheckDir: the manifest is loaded, the directory (or the recovery
// directory below it) found and checked; what cannot be checked is an
// error, not a result.
func TestCheckDir(t *testing.T) {
	dir, files := demo(t)
	b, err := EncodeManifest(&content.Manifest{Version: 1, RunID: "r1", Files: files})
	if err != nil {
		t.Fatal(err)
	}
	man := filepath.Join(t.TempDir(), "manifest.json.zst")
	if err := os.WriteFile(man, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// An EFS restore: the volume lands below aws-backup-restore_<time>/xroad.
	fsRoot := t.TempDir()
	if err := os.CopyFS(filepath.Join(fsRoot, "aws-backup-restore_2026-11-30T04-00-00", "xroad"), os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, nil, 0o600)
	for _, tc := range []struct {
		name    string
		o       DirOptions
		wantDir string
		wantErr string
	}{
		{"directory", DirOptions{Dir: dir, Manifest: man}, "", ""},
		{"recovery directory", DirOptions{Dir: fsRoot, Manifest: man, RecoveryGlob: "aws-backup-restore_*", Sub: "/xroad"}, "aws-backup-restore_2026-11-30T04-00-00/xroad", ""},
		{"no manifest", DirOptions{Dir: dir, Manifest: filepath.Join(t.TempDir(), "none")}, "", "no such file"},
		{"no recovery directory", DirOptions{Dir: fsRoot, Manifest: man, RecoveryGlob: "nothing_*"}, "", "no directory matching"},
		{"not a directory", DirOptions{Dir: notDir, Manifest: man}, "", "not a directory"},
		{"missing directory", DirOptions{Dir: filepath.Join(dir, "gone"), Manifest: man}, "", "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := CheckDir(context.Background(), tc.o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != outcome.StatusOK || res.Verified != len(files) || res.Dir != tc.wantDir {
				t.Fatalf("got %s, %d of %d verified in %q; want ok, all in %q", res.Status, res.Verified, len(files), res.Dir, tc.wantDir)
			}
		})
	}
}

func TestResultWritesTextAndMessage(t *testing.T) {
	r := &Result{Status: outcome.StatusFailed, Expected: 3, Verified: 1, Decrypted: 1, IntegrityOnly: 2,
		Problems: []Problem{{Path: "a/mlog-1.zip", Kind: Missing}, {Path: "b.gpg", Kind: Corrupted, Detail: "sha256 differs"}}}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"failed: 1 of 3 files verified", "1 encrypted archives decrypted", "2 encrypted archives checked for integrity only",
		"missing     a/mlog-1.zip", "corrupted   b.gpg sha256 differs"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text %q lacks %q", b.String(), want)
		}
	}
	p := filepath.Join(t.TempDir(), "termination-log")
	if err := r.WriteMessage(p); err != nil {
		t.Fatal(err)
	}
	var back Result
	if data, err := os.ReadFile(p); err != nil || json.Unmarshal(data, &back) != nil || len(back.Problems) != 2 {
		t.Fatalf("termination message %+v, %v", back, err)
	}
	if err := r.WriteMessage(filepath.Join(t.TempDir(), "no", "such", "dir")); err == nil {
		t.Fatal("a message written where no directory is")
	}
}
