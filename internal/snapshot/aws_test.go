package snapshot

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	corev1 "k8s.io/api/core/v1"

	"github.com/xroad-archiver/archiver/internal/awsfake"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/testenv"
	"github.com/xroad-archiver/archiver/internal/xroadgen"
)

const region = "eu-west-1"

var fast = Waiting{Timeout: 5 * time.Second, MinPoll: 2 * time.Millisecond, MaxPoll: 10 * time.Millisecond}

type world struct {
	k    testenv.KubeEnv
	ns   string
	fake *awsfake.Server
	ebs  *EBS
	efs  *EFS
}

func newWorld(t *testing.T) *world {
	k := testenv.Kube(t)
	w := &world{k: k, ns: k.Namespace(t), fake: awsfake.New(t)}
	w.ebs = &EBS{API: w.fake.EC2(region), Region: region, Cluster: "test", Wait: fast}
	w.efs = &EFS{API: w.fake.Backup(region), Region: region, Account: awsfake.AccountID, Vault: "Default", IAMRole: "arn:aws:iam::123456789012:role/backup", Cluster: "test", Wait: fast}
	return w
}

// ebsClaim creates a volume in the fake and a claim bound to it.
func (w *world) ebsClaim(t *testing.T, claim, vol string) string {
	w.fake.AddVolume(region, vol, 20, "eu-west-1a")
	w.k.BoundClaim(t, w.ns, claim, pv(claim+"-"+w.ns, corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: DriverEBS, VolumeHandle: vol}}, "eu-west-1a"))
	return w.ns + "/" + claim
}

func (w *world) efsClaim(t *testing.T, claim, fs string) string {
	w.k.BoundClaim(t, w.ns, claim, pv(claim+"-"+w.ns, corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: DriverEFS, VolumeHandle: fs + "::fsap-0123456789abcdef0"}}, ""))
	return w.ns + "/" + claim
}

func (w *world) run(pvcs []string, runID string, mod func(*Options)) (*Result, error) {
	o := Options{Kube: w.k.Client, PVCs: pvcs, RunID: runID, EBS: w.ebs, EFS: w.efs}
	if mod != nil {
		mod(&o)
	}
	return Run(context.Background(), o)
}

func TestEBSSnapshotIsTaggedWaitedForAndIdempotent(t *testing.T) {
	w := newWorld(t)
	ref := w.ebsClaim(t, "data", "vol-0123456789abcdef0")
	res, err := w.run([]string{ref}, "run-1", nil)
	if err != nil {
		t.Fatalf("%v %+v", err, res)
	}
	a := res.Volumes[0].Artifacts[0]
	if a.Kind != "ebs-snapshot" || a.State != "completed" || a.Reused || a.SizeBytes != 20<<30 {
		t.Fatalf("artifact %+v", a)
	}
	snaps := w.fake.Snapshots(region)
	if len(snaps) != 1 {
		t.Fatalf("%d snapshots", len(snaps))
	}
	tags := tagMap(snaps[0].Tags)
	for k, v := range map[string]string{TagManagedBy: ManagedBy, TagRunID: "run-1", TagNamespace: w.ns, TagPVC: "data", TagPV: "data-" + w.ns, TagCluster: "test"} {
		if tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, tags[k], v)
		}
	}
	// A rerun of the same run finds it instead of making a second one.
	creates := w.fake.Calls("CreateSnapshot")
	res, err = w.run([]string{ref}, "run-1", nil)
	if err != nil || !res.Volumes[0].Artifacts[0].Reused || w.fake.Calls("CreateSnapshot") != creates || len(w.fake.Snapshots(region)) != 1 {
		t.Fatalf("rerun: %v, %+v, creates %d -> %d", err, res.Volumes[0].Artifacts, creates, w.fake.Calls("CreateSnapshot"))
	}
}

func TestEBSFailuresAndFaults(t *testing.T) {
	tests := []struct {
		name  string
		setup func(w *world, vol string)
		want  string
		is    error
	}{
		{"throttled then fine", func(w *world, vol string) {
			w.fake.Inject("CreateSnapshot", 2, awsfake.Throttle)
			w.fake.Inject("DescribeSnapshots", 2, awsfake.Throttle)
		}, "", nil},
		{"snapshot ends in error", func(w *world, vol string) { w.fake.FailSnapshot(vol, "volume is being deleted") }, "volume is being deleted", ErrFailed},
		{"slower than the timeout", func(w *world, vol string) { w.fake.NeverComplete(vol) }, "timed out", ErrTimeout},
		{"500s beyond retries", func(w *world, vol string) { w.fake.Inject("CreateSnapshot", 10, awsfake.InternalError) }, "create snapshot", nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			// Only the timeout case needs a short one; the others must not
			// race it on a loaded machine.
			w.ebs.Wait.Timeout = 20 * time.Second
			if tc.is == ErrTimeout {
				w.ebs.Wait.Timeout = 300 * time.Millisecond
			}
			vol := "vol-0123456789abcde" + string(rune('0'+i)) + "0"
			ref := w.ebsClaim(t, "data", vol)
			tc.setup(w, vol)
			res, err := w.run([]string{ref}, "r", nil)
			if tc.want == "" {
				if err != nil || res.Volumes[0].Artifacts[0].State != "completed" {
					t.Fatalf("%v %+v", err, res.Volumes[0])
				}
				if w.fake.Calls("CreateSnapshot") < 3 {
					t.Errorf("throttling was not retried: %d calls", w.fake.Calls("CreateSnapshot"))
				}
				return
			}
			if !errors.Is(err, ErrAllFailed) || !strings.Contains(res.Volumes[0].Error, tc.want) {
				t.Fatalf("err %v, volume error %q; want %q", err, res.Volumes[0].Error, tc.want)
			}
		})
	}
}

func TestEBSDisasterRecoveryCopy(t *testing.T) {
	w := newWorld(t)
	w.ebs.DR = &DRCopy{API: w.fake.EC2("eu-central-1"), Region: "eu-central-1", KMSKeyID: "arn:aws:kms:eu-central-1:123456789012:key/dr"}
	ref := w.ebsClaim(t, "data", "vol-0123456789abcdef1")
	res, err := w.run([]string{ref}, "run-dr", nil)
	if err != nil {
		t.Fatalf("%v %+v", err, res.Volumes)
	}
	a := res.Volumes[0].Artifacts[0]
	if len(a.Copies) != 1 || a.Copies[0].State != "completed" || a.Copies[0].Region != "eu-central-1" {
		t.Fatalf("copies %+v", a.Copies)
	}
	dr := w.fake.Snapshots("eu-central-1")
	if len(dr) != 1 || tagMap(dr[0].Tags)[TagSource] != a.ID || !aws.ToBool(dr[0].Encrypted) {
		t.Fatalf("DR snapshots %+v", dr)
	}
	// Rerun: the copy is found, not made again.
	res, _ = w.run([]string{ref}, "run-dr", nil)
	if c := res.Volumes[0].Artifacts[0].Copies; len(c) != 1 || !c[0].Reused || len(w.fake.Snapshots("eu-central-1")) != 1 {
		t.Fatalf("rerun copies %+v", c)
	}
}

func TestRetentionTouchesOnlyArchiversSnapshotsOfThatPV(t *testing.T) {
	w := newWorld(t)
	ref := w.ebsClaim(t, "data", "vol-0123456789abcdef2")
	for i := 1; i <= 4; i++ {
		if _, err := w.run([]string{ref}, "run-"+string(rune('0'+i)), nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // distinct start times (EC2 reports seconds)
	}
	// A snapshot someone else made of the same volume.
	foreign, err := w.fake.EC2(region).CreateSnapshot(context.Background(), &ec2.CreateSnapshotInput{VolumeId: aws.String("vol-0123456789abcdef2")})
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.run([]string{ref}, "run-5", func(o *Options) { o.Retention = Policy{KeepLast: 2}; o.DryRun = true })
	if err != nil || len(res.Volumes[0].Pruned) != 2 || len(w.fake.Snapshots(region)) != 5 {
		t.Fatalf("dry run: %v, would prune %d, snapshots %d", err, len(res.Volumes[0].Pruned), len(w.fake.Snapshots(region)))
	}
	res, err = w.run([]string{ref}, "run-5", func(o *Options) { o.Retention = Policy{KeepLast: 2} })
	if err != nil {
		t.Fatal(err)
	}
	left := map[string]bool{}
	for _, s := range w.fake.Snapshots(region) {
		left[tagMap(s.Tags)[TagRunID]] = true
		if aws.ToString(s.SnapshotId) == aws.ToString(foreign.SnapshotId) {
			left["foreign"] = true
		}
	}
	if len(res.Volumes[0].Pruned) != 3 || !left["run-5"] || !left["run-4"] || left["run-1"] || !left["foreign"] {
		t.Fatalf("pruned %d, left %v", len(res.Volumes[0].Pruned), left)
	}
	// Deleting what is already gone is fine.
	if _, err := w.ebs.Prune(context.Background(), *res.Volumes[0].Volume, Policy{KeepLast: 1}, false, time.UTC); err != nil {
		t.Fatal(err)
	}
}

func TestEFSBackupJobs(t *testing.T) {
	tests := []struct {
		name  string
		state backuptypes.BackupJobState
	}{
		{"completed", ""},
		{"failed", backuptypes.BackupJobStateFailed},
		{"partial", backuptypes.BackupJobStatePartial},
		{"aborted", backuptypes.BackupJobStateAborted},
		{"expired", backuptypes.BackupJobStateExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			ref := w.efsClaim(t, "archive", "fs-0123456789abcdef0")
			if tc.state != "" {
				w.fake.FailBackupJob(w.efs.FileSystemARN("fs-0123456789abcdef0"), tc.state, "something went wrong: "+tc.name)
			}
			res, err := w.run([]string{ref}, "run-1", nil)
			if tc.state == "" {
				a := res.Volumes[0].Artifacts[0]
				if err != nil || a.State != "COMPLETED" || !strings.HasPrefix(a.ID, "arn:aws:backup:") {
					t.Fatalf("%v %+v", err, res.Volumes[0])
				}
				// Same run id: same job (idempotency token), not a second backup.
				w.run([]string{ref}, "run-1", nil)
				if n := len(w.fake.BackupJobs()); n != 1 {
					t.Fatalf("%d backup jobs after a rerun, want 1", n)
				}
				rps := w.fake.RecoveryPoints()
				if len(rps) != 1 || rps[0].Tags[TagPV] != "archive-"+w.ns {
					t.Fatalf("recovery points %+v", rps)
				}
				return
			}
			if err == nil || !strings.Contains(res.Volumes[0].Error, string(tc.state)) || !strings.Contains(res.Volumes[0].Error, "something went wrong") {
				t.Fatalf("err %v, volume error %q", err, res.Volumes[0].Error)
			}
		})
	}
}

func TestSeveralPVCsOneFailingIsPartial(t *testing.T) {
	w := newWorld(t)
	good := w.ebsClaim(t, "data", "vol-0123456789abcdef3")
	w.k.BoundClaim(t, w.ns, "nfs", pv("nfs-"+w.ns, corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "/x"}}, ""))
	res, err := w.run([]string{good, w.ns + "/nfs", w.ns + "/missing"}, "run-1", nil)
	if !errors.Is(err, ErrPartial) || res.Status != "partial" {
		t.Fatalf("err %v, status %s", err, res.Status)
	}
	if res.Volumes[0].Status != "ok" || !strings.Contains(res.Volumes[1].Error, "NFS") || !strings.Contains(res.Volumes[2].Error, "does not exist") {
		t.Fatalf("volumes %+v", res.Volumes)
	}
}

func TestContentManifestBeforeTheSnapshot(t *testing.T) {
	w := newWorld(t)
	ref := w.ebsClaim(t, "data", "vol-0123456789abcdef4")
	dir := filepath.Join(t.TempDir(), "xroad")
	if _, err := xroadgen.Generate(xroadgen.Demo(dir)); err != nil {
		t.Fatal(err)
	}
	s, _ := store.NewLocal(t.TempDir())
	res, err := w.run([]string{ref}, "run-1", func(o *Options) { o.Store = s; o.Mount = map[string]string{ref: dir} })
	if err != nil {
		t.Fatal(err)
	}
	key := res.Volumes[0].ContentManifest
	m, err := LoadContent(context.Background(), s, key)
	if err != nil || len(m.Files) != 20 || m.PV != "data-"+w.ns {
		t.Fatalf("content manifest %s: %v, %+v", key, err, m)
	}
	if tagMap(w.fake.Snapshots(region)[0].Tags)[TagManifest] != key {
		t.Errorf("snapshot not tagged with its content manifest")
	}
	// List shows it with its run.
	vols, _ := List(context.Background(), Options{Kube: w.k.Client, PVCs: []string{ref}, EBS: w.ebs, EFS: w.efs})
	if len(vols[0].Artifacts) != 1 || vols[0].Artifacts[0].RunID != "run-1" {
		t.Fatalf("list %+v", vols)
	}
}
