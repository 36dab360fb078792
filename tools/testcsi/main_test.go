//go:build linux

package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
)

// TestVolumesAndSnapshotsAreDirectoryCopies: a volume restored from a
// snapshot holds the snapshot-time content, creates are idempotent, and
// deletes remove only their own directory.
func TestVolumesAndSnapshotsAreDirectoryCopies(t *testing.T) {
	ctx := context.Background()
	d := &driver{name: "ebs.csi.aws.com", root: t.TempDir(), nodeID: "n"}
	for _, sub := range []string{"volumes", "snapshots"} {
		os.MkdirAll(filepath.Join(d.root, sub), 0o755)
	}
	v, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "pvc-1", CapacityRange: &csi.CapacityRange{RequiredBytes: 2 << 30}})
	if err != nil || v.Volume.CapacityBytes != 2<<30 {
		t.Fatalf("create: %v %v", v, err)
	}
	again, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "pvc-1"})
	if err != nil || again.Volume.VolumeId != v.Volume.VolumeId {
		t.Fatalf("a retried create made another volume: %v %v", again, err)
	}
	file := filepath.Join(d.volumeDir(v.Volume.VolumeId), "mlog-1.zip")
	os.WriteFile(file, []byte("at snapshot time"), 0o640)
	s, err := d.CreateSnapshot(ctx, &csi.CreateSnapshotRequest{Name: "snapshot-1", SourceVolumeId: v.Volume.VolumeId})
	if err != nil || !s.Snapshot.ReadyToUse {
		t.Fatalf("snapshot: %v %v", s, err)
	}
	os.WriteFile(file, []byte("changed later"), 0o640)
	l, err := d.ListSnapshots(ctx, &csi.ListSnapshotsRequest{SnapshotId: s.Snapshot.SnapshotId})
	if err != nil || len(l.Entries) != 1 {
		t.Fatalf("list: %v %v", l, err)
	}
	if l, _ := d.ListSnapshots(ctx, &csi.ListSnapshotsRequest{SnapshotId: "snap-0123456789abcdef0"}); len(l.Entries) != 0 {
		t.Fatalf("an unknown snapshot is listed: %v", l)
	}
	r, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "pvc-2", VolumeContentSource: &csi.VolumeContentSource{
		Type: &csi.VolumeContentSource_Snapshot{Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: s.Snapshot.SnapshotId}}}})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(d.volumeDir(r.Volume.VolumeId), "mlog-1.zip")); string(b) != "at snapshot time" {
		t.Fatalf("restored %q", b)
	}
	if _, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "pvc-3", VolumeContentSource: &csi.VolumeContentSource{
		Type: &csi.VolumeContentSource_Snapshot{Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: "snap-missing"}}}}); err == nil {
		t.Fatal("a volume from a missing snapshot was created")
	}
	if _, err := d.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: r.Volume.VolumeId}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.volumeDir(r.Volume.VolumeId)); !os.IsNotExist(err) {
		t.Fatalf("deleted volume still there: %v", err)
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("deleting one volume touched another: %v", err)
	}
}

// TestEFSHandlesAreDirectoriesInTheFileSystem: FSID:/PATH is PATH inside
// the file system's directory, and never outside it.
func TestEFSHandlesAreDirectoriesInTheFileSystem(t *testing.T) {
	d := &driver{name: "efs.csi.aws.com", root: "/r"}
	for handle, want := range map[string]string{
		"fs-1:/aws-backup-restore_x/xroad": "/r/volumes/fs-1/aws-backup-restore_x/xroad",
		"fs-1:/":                           "/r/volumes/fs-1",
		"fs-1:/../../etc":                  "/r/volumes/fs-1/etc",
		"../fs-1:/a":                       "/r/volumes/fs-1/a",
		"vol-1":                            "/r/volumes/vol-1",
	} {
		if got := d.volumeDir(handle); got != want {
			t.Errorf("%s: %s, want %s", handle, got, want)
		}
	}
}
