// Command mkimage packs archiver's static binaries into its container
// image without Docker or a registry (`make image`): an OCI image layout
// with one multi-architecture index (amd64 and arm64), the same layout as
// an oci-archive tarball, and a docker-archive tarball per architecture.
// Push them with standard tools (skopeo, crane, docker load + push); see
// README "Image". It is a build step, not part of the product: it must not
// be imported by, or copied into, the archiver binary.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/xroad-archiver/archiver/internal/dirtar"
	"github.com/xroad-archiver/archiver/internal/ociimage"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	version := fs.String("version", "", "version stamped into the image (org.opencontainers.image.version)")
	repo := fs.String("repo", "archiver", "image name the tarballs and the layout are tagged with")
	outDir := fs.String("out", "bin/image", "output directory (must not exist or be empty)")
	var bins multi
	fs.Var(&bins, "bin", "ARCH=PATH of a static linux binary (repeat: amd64, arm64)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version == "" || len(bins) == 0 {
		return fmt.Errorf("--version and at least one --bin ARCH=PATH are required")
	}
	if ents, err := os.ReadDir(*outDir); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s is not empty", *outDir)
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	ref := *repo + ":" + *version
	var imgs []v1.Image
	for _, b := range bins {
		arch, path, ok := strings.Cut(b, "=")
		if !ok || arch != "amd64" && arch != "arm64" {
			return fmt.Errorf("--bin %q: want amd64=PATH or arm64=PATH", b)
		}
		img, err := ociimage.Image(ociimage.Options{
			Files:      []ociimage.File{{Src: path, Dst: "/archiver", Mode: 0o755}},
			Entrypoint: []string{"/archiver"},
			User:       "65532:65532", // the manifests run it as 999 (X-Road's uid)
			Arch:       arch,
			Labels: map[string]string{
				"org.opencontainers.image.title":   "archiver",
				"org.opencontainers.image.version": *version,
				"org.opencontainers.image.source":  "https://github.com/xroad-archiver/archiver",
			},
		})
		if err != nil {
			return err
		}
		tarPath := filepath.Join(*outDir, fmt.Sprintf("archiver-%s-linux-%s.tar", *version, arch))
		f, err := os.Create(tarPath)
		if err != nil {
			return err
		}
		err = ociimage.WriteTarball(f, ref, img)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		desc, err := ociimage.Describe(img)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s  %s (docker-archive)\n", tarPath, desc)
		imgs = append(imgs, img)
	}
	layoutDir := filepath.Join(*outDir, "oci")
	if err := ociimage.WriteLayout(layoutDir, ref, imgs); err != nil {
		return err
	}
	archive := filepath.Join(*outDir, fmt.Sprintf("archiver-%s-oci.tar", *version))
	if err := tarDir(layoutDir, archive); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s  OCI layout, index %s for %d architecture(s)\n%s  the same as an oci-archive\n", layoutDir, ref, len(imgs), archive)
	return nil
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// tarDir writes dir as a tar with paths relative to it (skopeo's
// oci-archive: format).
func tarDir(dir, dst string) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	err = dirtar.Write(context.Background(), f, dir, dirtar.Options{})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
