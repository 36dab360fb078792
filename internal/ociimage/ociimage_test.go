package ociimage

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestImageRoundTrip(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "archiver")
	if err := os.WriteFile(bin, []byte("#!binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	opts := Options{Files: []File{{Src: bin, Dst: "/usr/local/bin/archiver", Mode: 0o755}},
		Entrypoint: []string{"/usr/local/bin/archiver"}, User: "65532:65532", Arch: "arm64",
		Labels: map[string]string{"org.opencontainers.image.version": "v1"}}
	img, err := Image(opts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteTarball(&buf, "archiver:test", img); err != nil {
		t.Fatal(err)
	}
	tb := filepath.Join(dir, "img.tar")
	if err := os.WriteFile(tb, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(tb, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Architecture != "arm64" || cf.OS != "linux" || cf.Config.User != "65532:65532" ||
		len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/usr/local/bin/archiver" ||
		cf.Config.Labels["org.opencontainers.image.version"] != "v1" {
		t.Fatalf("config = %+v", cf)
	}
	layers, err := back.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers = %d, %v; want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	raw, _ := io.ReadAll(rc)
	if !bytes.Contains(raw, []byte("usr/local/bin/archiver")) || !bytes.Contains(raw, []byte("#!binary")) {
		t.Fatalf("layer does not hold the file")
	}

	// Same inputs, same digest: the image is reproducible.
	img2, err := Image(opts)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := img2.Digest()
	if d1 != d2 {
		t.Fatalf("digests differ for the same inputs: %s vs %s", d1, d2)
	}

	amd := opts
	amd.Arch = "amd64"
	img3, err := Image(amd)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "layout")
	if err := WriteLayout(out, "v1", []v1.Image{img, img3}); err != nil {
		t.Fatal(err)
	}
	lp, err := layout.FromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	ii, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := ii.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("layout index: %v, %v", im, err)
	}
	multi, err := ii.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	mm, err := multi.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var archs []string
	for _, m := range mm.Manifests {
		archs = append(archs, m.Platform.Architecture)
	}
	if len(archs) != 2 || archs[0] != "arm64" || archs[1] != "amd64" {
		t.Fatalf("architectures = %v, want [arm64 amd64]", archs)
	}
	if err := WriteLayout(out, "v1", []v1.Image{img}); err == nil {
		t.Fatal("writing into a non-empty layout directory succeeded")
	}
}

func TestImageRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.WriteFile(bin, []byte("x"), 0o755)
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"no arch", Options{Files: []File{{Src: bin, Dst: "/bin"}}}},
		{"no files", Options{Arch: "amd64"}},
		{"relative dst", Options{Arch: "amd64", Files: []File{{Src: bin, Dst: "bin"}}}},
		{"missing src", Options{Arch: "amd64", Files: []File{{Src: filepath.Join(dir, "nope"), Dst: "/bin"}}}},
		{"dir src", Options{Arch: "amd64", Files: []File{{Src: dir, Dst: "/bin"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Image(tc.opts); err == nil {
				t.Fatal("got no error")
			}
		})
	}
}
