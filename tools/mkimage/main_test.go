package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestImageForBothArchitectures builds a stand-in for archiver (a small
// static binary, so the test need not cross-compile all of archiver) for
// amd64 and arm64 with the version stamped as `make image` does, and packs
// it: the OCI
// layout's index holds both platforms labelled with the version, each
// docker-archive tarball loads, and the amd64 binary reports the version.
func TestImageForBothArchitectures(t *testing.T) {
	dir := t.TempDir()
	bins := map[string]string{}
	for _, arch := range []string{"amd64", "arm64"} {
		bins[arch] = filepath.Join(dir, arch, "archiver")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=v9.8.7-test", "-o", bins[arch], "./testdata/hello")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", arch, err, out)
		}
	}
	out := filepath.Join(dir, "image")
	var log strings.Builder
	if err := run([]string{"--version", "v9.8.7-test", "--out", out, "--bin", "amd64=" + bins["amd64"], "--bin", "arm64=" + bins["arm64"]}, &log); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(filepath.Join(out, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	outer, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	om, _ := outer.IndexManifest()
	if len(om.Manifests) != 1 || om.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "archiver:v9.8.7-test" {
		t.Fatalf("layout index %+v", om)
	}
	idx, err := outer.ImageIndex(om.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	archs := map[string]bool{}
	for _, m := range im.Manifests {
		archs[m.Platform.Architecture] = true
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		if cf.Config.Labels["org.opencontainers.image.version"] != "v9.8.7-test" || cf.Config.Entrypoint[0] != "/archiver" || cf.Architecture != m.Platform.Architecture {
			t.Errorf("%s: config %+v", m.Platform.Architecture, cf.Config)
		}
	}
	if !archs["amd64"] || !archs["arm64"] || len(archs) != 2 {
		t.Fatalf("platforms %v", archs)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := tarball.ImageFromPath(filepath.Join(out, "archiver-v9.8.7-test-linux-"+arch+".tar"), nil)
		if err != nil {
			t.Fatalf("%s tarball: %v", arch, err)
		}
		if cf, err := img.ConfigFile(); err != nil || cf.Architecture != arch {
			t.Fatalf("%s tarball: %v %+v", arch, err, cf)
		}
	}
	if st, err := os.Stat(filepath.Join(out, "archiver-v9.8.7-test-oci.tar")); err != nil || st.Size() < 1<<20 {
		t.Fatalf("oci-archive: %v", err)
	}
	if runtime.GOARCH == "amd64" {
		v, err := exec.Command(bins["amd64"]).CombinedOutput()
		if err != nil || !strings.Contains(string(v), "v9.8.7-test") {
			t.Fatalf("archiver version: %v %s", err, v)
		}
	}
	if err := run([]string{"--version", "v1", "--out", out, "--bin", "amd64=" + bins["amd64"]}, &log); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("writing over an image: %v", err)
	}
	if err := run([]string{"--version", "v1", "--out", t.TempDir(), "--bin", "s390x=" + bins["amd64"]}, &log); err == nil {
		t.Fatal("an unknown architecture was accepted")
	}
}
