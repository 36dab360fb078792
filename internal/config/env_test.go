package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestApplyEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		file Config
		env  map[string]string
		want Config
	}{
		{"nothing set", Config{Cluster: "c1"}, nil, Config{Cluster: "c1"}},
		{"variables override the file", Config{Cluster: "c1", Sync: Sync{Dest: "file:///a", Source: "/x"}},
			map[string]string{"ARCHIVER_CLUSTER": "c2", "ARCHIVER_DEST": "s3://b/p", "ARCHIVER_SOURCE": "/y", "ARCHIVER_KMS_KEY_ID": "k"},
			Config{Cluster: "c2", Sync: Sync{Dest: "s3://b/p", Source: "/y", KMSKeyID: "k"}}},
		{"the image fills only an empty key", Config{RestoreTest: RestoreTest{Image: "mine:1"}}, map[string]string{"ARCHIVER_IMAGE": "env:2"},
			Config{RestoreTest: RestoreTest{Image: "mine:1"}}},
		{"the image fills an empty key", Config{}, map[string]string{"ARCHIVER_IMAGE": "env:2"}, Config{RestoreTest: RestoreTest{Image: "env:2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.file
			c.ApplyEnv(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if c.Cluster != tc.want.Cluster || c.Sync.Dest != tc.want.Sync.Dest || c.Sync.Source != tc.want.Sync.Source ||
				c.Sync.KMSKeyID != tc.want.Sync.KMSKeyID || c.RestoreTest.Image != tc.want.RestoreTest.Image {
				t.Fatalf("got %+v, want %+v", c, tc.want)
			}
		})
	}
}

func TestPathAndArchiveZoneAt(t *testing.T) {
	t.Setenv("ARCHIVER_CONFIG", "")
	if Path() != DefaultPath {
		t.Fatalf("got %s, want %s", Path(), DefaultPath)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	t.Setenv("ARCHIVER_CONFIG", p)
	if Path() != p {
		t.Fatalf("got %s, want %s", Path(), p)
	}
	if z, err := ArchiveZoneAt(p); err != nil || z != time.UTC {
		t.Fatalf("no file: got %v %v, want UTC", z, err)
	}
	os.WriteFile(p, []byte("timeZone: Europe/Tallinn\nsync: {enabled: true, dest: \"file:///tmp/x\"}\n"), 0o600)
	if z, err := ArchiveZoneAt(p); err != nil || z.String() != "Europe/Tallinn" {
		t.Fatalf("got %v %v, want Europe/Tallinn", z, err)
	}
	for name, want := range map[string]string{"": "Europe/Tallinn", "Asia/Tokyo": "Asia/Tokyo"} {
		if z, err := ArchiveZoneFor(name); err != nil || z.String() != want {
			t.Fatalf("ArchiveZoneFor(%q): got %v %v, want %s", name, z, err, want)
		}
	}
	if _, err := ArchiveZoneFor("Mars/Olympus"); !errors.Is(err, ErrZone) {
		t.Fatalf("ArchiveZoneFor(Mars/Olympus): got %v, want ErrZone", err)
	}
	os.WriteFile(p, []byte("timeZone: [\n"), 0o600)
	if _, err := ArchiveZoneAt(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("a broken file: got %v, want an error naming it", err)
	}
	if _, err := LoadEnv(filepath.Join(dir, "none.yaml")); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Fatalf("a missing file: got %v, want an error naming it", err)
	}
}
