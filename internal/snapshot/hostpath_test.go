package snapshot

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/xroad-archiver/archiver/internal/codec"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/testenv"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

func TestHostPathVolumeIsTarredWithItsContentManifest(t *testing.T) {
	k := testenv.Kube(t)
	ns := k.Namespace(t)
	dir := filepath.Join(t.TempDir(), "xroad")
	files, err := xroadgen.Generate(xroadgen.Demo(dir))
	if err != nil {
		t.Fatal(err)
	}
	os.Symlink("/etc/passwd", filepath.Join(dir, "link-out")) // stored as a link, never followed
	k.BoundClaim(t, ns, "data", pv("hp-"+ns, corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/xroad"}}, ""))
	s, _ := store.NewLocal(t.TempDir())
	ctx := context.Background()
	res, err := Run(ctx, Options{Kube: k.Client, PVCs: []string{ns + "/data"}, Mount: map[string]string{ns + "/data": dir}, RunID: "run-1", Store: s})
	if err != nil {
		t.Fatalf("%v: %+v", err, res)
	}
	vr := res.Volumes[0]
	if vr.Status != "ok" || len(vr.Artifacts) != 1 || vr.Artifacts[0].Kind != "tar" || vr.Files != len(files) {
		t.Fatalf("result %+v (files %d, generated %d)", vr, vr.Files, len(files))
	}
	m, err := LoadContent(ctx, s, vr.ContentManifest)
	if err != nil {
		t.Fatal(err)
	}
	hashed, kinds := 0, 0
	for _, f := range m.Files {
		if f.SHA256 != "" {
			hashed++
		}
		if f.Kind != "" {
			kinds++
		}
	}
	if hashed != len(m.Files) || kinds != 15 {
		t.Errorf("%d of %d files hashed, %d marked as archives or backups; want every file hashed and the 15 archives and backups marked", hashed, len(m.Files), kinds)
	}
	// The tar holds every file byte for byte and the symlink as a link.
	rc, obj, err := s.Get(ctx, m.Tar.Key)
	if err != nil {
		t.Fatal(err)
	}
	if obj.Meta.Encoding != codec.Zstd {
		t.Errorf("tar encoding %q", obj.Meta.Encoding)
	}
	body, _ := codec.Decode(rc, codec.Zstd)
	defer body.Close()
	h := sha256.New()
	tr := tar.NewReader(io.TeeReader(body, h))
	seen := map[string]bool{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[hdr.Name] = true
		if hdr.Typeflag == tar.TypeSymlink {
			if hdr.Name != "link-out" || hdr.Linkname != "/etc/passwd" {
				t.Errorf("symlink %s -> %s", hdr.Name, hdr.Linkname)
			}
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		want, _ := os.ReadFile(filepath.Join(dir, hdr.Name))
		got, _ := io.ReadAll(tr)
		if string(got) != string(want) {
			t.Errorf("%s differs in the tar", hdr.Name)
		}
	}
	io.Copy(h, body)
	if hex.EncodeToString(h.Sum(nil)) != m.Tar.SHA256 {
		t.Error("tar SHA-256 differs from the content manifest's")
	}
	for _, f := range files {
		if !seen[f.Rel] {
			t.Errorf("%s missing from the tar", f.Rel)
		}
	}
}

func TestHostPathNeedsAMount(t *testing.T) {
	k := testenv.Kube(t)
	ns := k.Namespace(t)
	k.BoundClaim(t, ns, "data", pv("hp2-"+ns, corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/xroad"}}, ""))
	s, _ := store.NewLocal(t.TempDir())
	res, err := Run(context.Background(), Options{Kube: k.Client, PVCs: []string{ns + "/data"}, RunID: "r", Store: s})
	if err == nil || res.Status != "failed" || res.Volumes[0].Error == "" {
		t.Fatalf("%v %+v", err, res)
	}
	t.Log(res.Volumes[0].Error)
}
