package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xroad-archiver/archiver/internal/content"
	"github.com/xroad-archiver/archiver/internal/dircheck"
	"github.com/xroad-archiver/archiver/internal/snapshot"
)

// TestVerifyDirThroughTheCLI: the verifier pod's command on a local
// directory: an intact one exits 0 and writes its termination message; an
// altered archive exits 4 and is named on stdout and in the message; bad
// input is a usage error.
func TestVerifyDirThroughTheCLI(t *testing.T) {
	dir := demoTree(t)
	files, err := snapshot.ScanContent(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := dircheck.EncodeManifest(&content.Manifest{Version: 1, RunID: "r1", Files: files})
	if err != nil {
		t.Fatal(err)
	}
	man := filepath.Join(t.TempDir(), "manifest.json.zst")
	if err := os.WriteFile(man, b, 0o600); err != nil {
		t.Fatal(err)
	}
	msg := filepath.Join(t.TempDir(), "termination-log")
	r := cli(t, nil, "verify-dir", "--dir", dir, "--manifest", man, "--termination-log", msg)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ok: ") {
		t.Fatalf("intact: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	var archive string
	for _, f := range files {
		if strings.HasSuffix(f.Path, ".zip") {
			archive = f.Path
		}
	}
	if err := os.WriteFile(filepath.Join(dir, archive), []byte("altered"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = cli(t, nil, "verify-dir", "--dir", dir, "--manifest", man, "--termination-log", msg, "-o", "json")
	var res dircheck.Result
	if r.code != exitVerifyFail || json.Unmarshal([]byte(r.stdout), &res) != nil || len(res.Problems) != 1 || res.Problems[0].Path != archive {
		t.Fatalf("altered: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	if data, err := os.ReadFile(msg); err != nil || !strings.Contains(string(data), archive) {
		t.Fatalf("termination message %s, %v: want %s named", data, err, archive)
	}
	for _, args := range [][]string{{"verify-dir", "--dir", dir}, {"verify-dir", "--manifest", man},
		{"verify-dir", "--dir", dir, "--manifest", man, "--restore-from", "file:///x"}, {"verify-dir", "--dir", dir, "--manifest", man, "--gpg-signer", "k.asc"}} {
		if r := cli(t, nil, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, r.code, exitUsage, r.stderr)
		}
	}
}
