//go:build linux

// Command testcsi is a test-only CSI driver for the real single-node
// Kubernetes that scripts/testenv.sh starts (make testenv). It stands in for
// the EBS CSI driver, under its name by default, so that the real
// csi-provisioner, snapshot-controller, csi-snapshotter and kubelet drive
// archiver's EBS code paths on this machine; the snapshots EC2 takes are
// linked to it by the test harness (see internal/testenv).
//
// Run with --name efs.csi.aws.com it stands in for the EFS CSI driver's
// node part: a static volume's handle FSID:/PATH is the directory
// volumes/FSID/PATH under --root.
//
// It only moves directories: a volume is a directory under --root, a
// snapshot a copy of one, publishing a volume a bind mount. It implements
// Identity, Controller (CreateVolume from nothing, a snapshot or a volume;
// DeleteVolume; CreateSnapshot, DeleteSnapshot, ListSnapshots) and Node
// (publish and unpublish, no staging), and registers with kubelet through
// the plugin registration API. It is never part of an archiver image.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

func main() {
	var d driver
	var endpoint, regDir string
	flag.StringVar(&d.name, "name", "ebs.csi.aws.com", "driver name")
	flag.StringVar(&d.root, "root", "", "directory holding volumes/ and snapshots/")
	flag.StringVar(&d.nodeID, "node-id", "", "node id (the node's name)")
	flag.StringVar(&endpoint, "endpoint", "", "CSI unix socket path")
	flag.StringVar(&regDir, "registration-dir", "", "kubelet's plugins_registry directory (empty: do not register)")
	flag.Parse()
	if d.root == "" || endpoint == "" || d.nodeID == "" {
		log.Fatal("testcsi: --root, --endpoint and --node-id are required")
	}
	for _, sub := range []string{"volumes", "snapshots"} {
		if err := os.MkdirAll(filepath.Join(d.root, sub), 0o755); err != nil {
			log.Fatal(err)
		}
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(logCalls))
	csi.RegisterIdentityServer(srv, &d)
	csi.RegisterControllerServer(srv, &d)
	csi.RegisterNodeServer(srv, &d)
	go serve(srv, endpoint)
	if regDir != "" {
		reg := grpc.NewServer()
		registerapi.RegisterRegistrationServer(reg, &registration{name: d.name, endpoint: endpoint})
		go serve(reg, filepath.Join(regDir, d.name+"-reg.sock"))
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	srv.Stop()
}

func serve(s *grpc.Server, path string) {
	os.Remove(path)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("testcsi: serving on %s", path)
	if err := s.Serve(l); err != nil {
		log.Fatal(err)
	}
}

func logCalls(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	if err != nil || !strings.HasSuffix(info.FullMethod, "Probe") && !strings.Contains(info.FullMethod, "Capabilities") {
		log.Printf("%s %v -> %v", info.FullMethod, req, err)
	}
	return resp, err
}

// registration answers kubelet's plugin watcher.
type registration struct {
	registerapi.UnimplementedRegistrationServer
	name, endpoint string
}

func (r *registration) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	return &registerapi.PluginInfo{Type: registerapi.CSIPlugin, Name: r.name, Endpoint: r.endpoint, SupportedVersions: []string{"1.0.0"}}, nil
}

func (r *registration) NotifyRegistrationStatus(_ context.Context, s *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	log.Printf("testcsi: kubelet registration: registered=%v %s", s.PluginRegistered, s.Error)
	return &registerapi.RegistrationStatusResponse{}, nil
}

type driver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedControllerServer
	csi.UnimplementedNodeServer
	name, root, nodeID string
	mu                 sync.Mutex // one change to the tree at a time
}

func (d *driver) volumeDir(id string) string {
	// An EFS handle, FSID:/PATH (as the EFS CSI driver takes them in
	// static volumes): the directory PATH inside the file system FSID.
	if fs, sub, ok := strings.Cut(id, ":"); ok {
		return filepath.Join(d.root, "volumes", filepath.Base(fs), filepath.Clean("/"+sub))
	}
	return filepath.Join(d.root, "volumes", filepath.Base(id))
}
func (d *driver) snapshotDir(id string) string {
	return filepath.Join(d.root, "snapshots", filepath.Base(id))
}

// id derives a stable EBS-like id from a request name, so retries of a
// create are idempotent.
func id(prefix, name string) string {
	h := sha256.Sum256([]byte(name))
	return prefix + hex.EncodeToString(h[:])[:17]
}

func (d *driver) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: d.name, VendorVersion: "test"}, nil
}

func (d *driver) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	return &csi.GetPluginCapabilitiesResponse{Capabilities: []*csi.PluginCapability{{Type: &csi.PluginCapability_Service_{
		Service: &csi.PluginCapability_Service{Type: csi.PluginCapability_Service_CONTROLLER_SERVICE}}}}}, nil
}

func (d *driver) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	return &csi.ProbeResponse{}, nil
}

func (d *driver) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	var caps []*csi.ControllerServiceCapability
	for _, c := range []csi.ControllerServiceCapability_RPC_Type{csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_SNAPSHOT, csi.ControllerServiceCapability_RPC_LIST_SNAPSHOTS,
		csi.ControllerServiceCapability_RPC_CLONE_VOLUME} {
		caps = append(caps, &csi.ControllerServiceCapability{Type: &csi.ControllerServiceCapability_Rpc{Rpc: &csi.ControllerServiceCapability_RPC{Type: c}}})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}

func (d *driver) CreateVolume(_ context.Context, r *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	if r.Name == "" {
		return nil, status.Error(codes.InvalidArgument, "name is required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	vid := id("vol-", r.Name)
	dir := d.volumeDir(vid)
	size := r.GetCapacityRange().GetRequiredBytes()
	if size == 0 {
		size = 1 << 30
	}
	vol := &csi.Volume{VolumeId: vid, CapacityBytes: size, ContentSource: r.VolumeContentSource}
	if _, err := os.Stat(dir); err == nil {
		return &csi.CreateVolumeResponse{Volume: vol}, nil
	}
	tmp := dir + ".creating"
	os.RemoveAll(tmp)
	var src string
	switch s := r.GetVolumeContentSource(); {
	case s.GetSnapshot() != nil:
		src = d.snapshotDir(s.GetSnapshot().SnapshotId)
	case s.GetVolume() != nil:
		src = d.volumeDir(s.GetVolume().VolumeId)
	}
	if src != "" {
		if _, err := os.Stat(src); err != nil {
			return nil, status.Errorf(codes.NotFound, "source %s: %v", filepath.Base(src), err)
		}
		if err := copyTree(src, tmp); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
	} else if err := os.Mkdir(tmp, 0o755); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.CreateVolumeResponse{Volume: vol}, nil
}

func (d *driver) DeleteVolume(_ context.Context, r *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.RemoveAll(d.volumeDir(r.VolumeId)); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.DeleteVolumeResponse{}, nil
}

func (d *driver) ValidateVolumeCapabilities(_ context.Context, r *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	if _, err := os.Stat(d.volumeDir(r.VolumeId)); err != nil {
		return nil, status.Errorf(codes.NotFound, "volume %s", r.VolumeId)
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{VolumeCapabilities: r.VolumeCapabilities}}, nil
}

func (d *driver) CreateSnapshot(_ context.Context, r *csi.CreateSnapshotRequest) (*csi.CreateSnapshotResponse, error) {
	if r.Name == "" || r.SourceVolumeId == "" {
		return nil, status.Error(codes.InvalidArgument, "name and source volume are required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	sid := id("snap-", r.Name)
	dir := d.snapshotDir(sid)
	if _, err := os.Stat(dir); err != nil {
		src := d.volumeDir(r.SourceVolumeId)
		if _, err := os.Stat(src); err != nil {
			return nil, status.Errorf(codes.NotFound, "volume %s", r.SourceVolumeId)
		}
		if err := copyTree(src, dir+".creating"); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		if err := os.Rename(dir+".creating", dir); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	return &csi.CreateSnapshotResponse{Snapshot: d.snapshot(sid, r.SourceVolumeId)}, nil
}

func (d *driver) snapshot(sid, source string) *csi.Snapshot {
	st, _ := os.Stat(d.snapshotDir(sid))
	t := time.Now()
	if st != nil {
		t = st.ModTime()
	}
	return &csi.Snapshot{SnapshotId: sid, SourceVolumeId: source, SizeBytes: 1 << 30, CreationTime: timestamppb.New(t), ReadyToUse: true}
}

func (d *driver) DeleteSnapshot(_ context.Context, r *csi.DeleteSnapshotRequest) (*csi.DeleteSnapshotResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.RemoveAll(d.snapshotDir(r.SnapshotId)); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.DeleteSnapshotResponse{}, nil
}

// ListSnapshots answers the one question the snapshotter asks of a
// pre-provisioned snapshot: does this id exist?
func (d *driver) ListSnapshots(_ context.Context, r *csi.ListSnapshotsRequest) (*csi.ListSnapshotsResponse, error) {
	var ids []string
	if r.SnapshotId != "" {
		if _, err := os.Stat(d.snapshotDir(r.SnapshotId)); err == nil {
			ids = append(ids, r.SnapshotId)
		}
	} else {
		ents, _ := os.ReadDir(filepath.Join(d.root, "snapshots"))
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), ".creating") {
				ids = append(ids, e.Name())
			}
		}
	}
	var out csi.ListSnapshotsResponse
	for _, s := range ids {
		out.Entries = append(out.Entries, &csi.ListSnapshotsResponse_Entry{Snapshot: d.snapshot(s, "")})
	}
	return &out, nil
}

func (d *driver) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: d.nodeID}, nil
}

func (d *driver) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	return &csi.NodeGetCapabilitiesResponse{}, nil
}

// NodePublishVolume bind-mounts the volume's directory at the target,
// read-only when asked.
func (d *driver) NodePublishVolume(_ context.Context, r *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	src, target := d.volumeDir(r.VolumeId), r.TargetPath
	if _, err := os.Stat(src); err != nil {
		return nil, status.Errorf(codes.NotFound, "volume %s", r.VolumeId)
	}
	if mounted(target) {
		return &csi.NodePublishVolumeResponse{}, nil
	}
	if err := os.MkdirAll(target, 0o750); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if err := syscall.Mount(src, target, "", syscall.MS_BIND, ""); err != nil {
		return nil, status.Errorf(codes.Internal, "bind %s: %v", target, err)
	}
	if r.Readonly {
		if err := syscall.Mount("", target, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			syscall.Unmount(target, 0)
			return nil, status.Errorf(codes.Internal, "read-only %s: %v", target, err)
		}
	}
	return &csi.NodePublishVolumeResponse{}, nil
}

func (d *driver) NodeUnpublishVolume(_ context.Context, r *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	for mounted(r.TargetPath) {
		if err := syscall.Unmount(r.TargetPath, 0); err != nil {
			return nil, status.Errorf(codes.Internal, "unmount %s: %v", r.TargetPath, err)
		}
	}
	if err := os.Remove(r.TargetPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

// mounted reports whether path is a mount point.
func mounted(path string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	clean := filepath.Clean(path)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == clean {
			return true
		}
	}
	return false
}

// copyTree copies src to dst (which must not exist) with modes, owners
// and times.
func copyTree(src, dst string) error {
	if out, err := exec.Command("cp", "-a", "--", src, dst).CombinedOutput(); err != nil {
		os.RemoveAll(dst)
		return fmt.Errorf("copy %s: %v: %s", filepath.Base(src), err, out)
	}
	return nil
}
