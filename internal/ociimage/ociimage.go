// Package ociimage builds container images from static binaries without a
// Docker engine or a registry: one layer holding the given files, a config
// with the entrypoint, user and environment, written as a docker-archive
// tarball (`ctr images import`, `docker load`, `skopeo copy
// docker-archive:`) or as an OCI image layout with a multi-architecture index
// (`skopeo copy --all oci:DIR docker://...`, `crane push`).
//
// It owns packing images. It must not build binaries (the Makefile and test
// helpers do), and it never talks to a registry.
package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// File is one regular file placed in the image.
type File struct {
	Src  string // path on this machine
	Dst  string // absolute path in the image, e.g. /archiver
	Mode int64  // permission bits, e.g. 0o755
}

// Options describe one single-architecture image.
type Options struct {
	Files      []File
	Entrypoint []string
	Cmd        []string
	User       string            // e.g. "65532:65532"; empty means root
	Env        []string          // KEY=VALUE
	Labels     map[string]string // OCI annotations as image labels
	OS         string            // default linux
	Arch       string            // amd64, arm64 (GOARCH names)
	Created    time.Time         // zero gives the epoch: the same inputs give the same digest
}

// Image returns the image described by opts. File contents are read when
// the layer is first hashed or written, not now; a missing file is an error
// here.
func Image(opts Options) (v1.Image, error) {
	if opts.Arch == "" {
		return nil, fmt.Errorf("image: architecture is required")
	}
	if len(opts.Files) == 0 {
		return nil, fmt.Errorf("image: no files")
	}
	for _, f := range opts.Files {
		if !path.IsAbs(f.Dst) || path.Clean(f.Dst) != f.Dst {
			return nil, fmt.Errorf("image: file destination %q must be a clean absolute path", f.Dst)
		}
		if st, err := os.Stat(f.Src); err != nil {
			return nil, fmt.Errorf("image: %w", err)
		} else if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("image: %s is not a regular file", f.Src)
		}
	}
	files := append([]File(nil), opts.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Dst < files[j].Dst })
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return layerTar(files) },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = opts.OS
	if cf.OS == "" {
		cf.OS = "linux"
	}
	cf.Architecture = opts.Arch
	cf.Created = v1.Time{Time: opts.Created.UTC()}
	cf.Config.Entrypoint = opts.Entrypoint
	cf.Config.Cmd = opts.Cmd
	cf.Config.User = opts.User
	cf.Config.Env = opts.Env
	cf.Config.Labels = opts.Labels
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	return img, nil
}

// layerTar streams a tar of files with their parent directories, owned by
// root, with fixed times so that the layer digest depends only on contents.
func layerTar(files []File) (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := writeFiles(tw, files)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

func writeFiles(tw *tar.Writer, files []File) error {
	dirs := map[string]bool{}
	epoch := time.Unix(0, 0)
	for _, f := range files {
		var parents []string
		for d := path.Dir(f.Dst); d != "/" && !dirs[d]; d = path.Dir(d) {
			parents = append(parents, d)
			dirs[d] = true
		}
		for i := len(parents) - 1; i >= 0; i-- {
			hdr := &tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(parents[i], "/") + "/", Mode: 0o755, ModTime: epoch}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
		}
		src, err := os.Open(f.Src)
		if err != nil {
			return err
		}
		st, err := src.Stat()
		if err != nil {
			src.Close()
			return err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(f.Dst, "/"), Mode: f.Mode, Size: st.Size(), ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			src.Close()
			return err
		}
		_, err = io.Copy(tw, src)
		src.Close()
		if err != nil {
			return fmt.Errorf("copy %s into layer: %w", f.Src, err)
		}
	}
	return nil
}

// WriteTarball writes img as a docker-archive tarball tagged ref (for
// example "archiver:v1.2.3"), the format `ctr images import` and
// `docker load` read.
func WriteTarball(w io.Writer, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	if err := tarball.Write(tag, img, w); err != nil {
		return fmt.Errorf("write image tarball: %w", err)
	}
	return nil
}

// WriteLayout writes the images (one per architecture) as an OCI image
// layout in dir with one multi-architecture index annotated with ref, so
// that `skopeo copy --all oci:DIR:REF docker://REGISTRY/REPO:TAG` pushes
// all of them under one tag. dir must not exist yet or be empty.
func WriteLayout(dir, ref string, imgs []v1.Image) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("image layout %s: directory is not empty", dir)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("image layout %s: %w", dir, err)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			return fmt.Errorf("image layout: %w", err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture}}})
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref,
	})); err != nil {
		return fmt.Errorf("image layout %s: %w", dir, err)
	}
	return nil
}

// Describe returns a one-line summary of img for logs: digest and platform.
func Describe(img v1.Image) (string, error) {
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s/%s", d, cf.OS, cf.Architecture)
	return b.String(), nil
}
