package awsfake

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

var snapshotIDPattern = regexp.MustCompile(`^snap-[0-9a-f]{17}$`)

func TestCreateSnapshotThenWaiterCompletes(t *testing.T) {
	tests := []struct {
		name          string
		polls         int
		wantDescribes int
	}{
		{"zero polls completes on first describe", 0, 1},
		{"one poll", 1, 2},
		{"default two polls", 2, 3},
		{"five polls", 5, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t)
			s.SnapshotPolls = tc.polls
			s.AddVolume(region, volID, 42, region+"a")
			c := s.EC2(region)
			start := time.Now().Add(-time.Second)

			out, err := c.CreateSnapshot(testCtx(t), &ec2.CreateSnapshotInput{
				VolumeId:    aws.String(volID),
				Description: aws.String("nightly"),
				TagSpecifications: []ec2types.TagSpecification{{
					ResourceType: ec2types.ResourceTypeSnapshot,
					Tags:         []ec2types.Tag{{Key: aws.String("archiver"), Value: aws.String("xroad")}},
				}},
			})
			if err != nil {
				t.Fatalf("CreateSnapshot: %v", err)
			}
			id := aws.ToString(out.SnapshotId)
			if !snapshotIDPattern.MatchString(id) {
				t.Errorf("SnapshotId = %q, want snap- and 17 hex digits", id)
			}
			if out.State != ec2types.SnapshotStatePending || aws.ToInt32(out.VolumeSize) != 42 ||
				aws.ToString(out.OwnerId) != AccountID || aws.ToString(out.Description) != "nightly" ||
				aws.ToString(out.VolumeId) != volID {
				t.Errorf("CreateSnapshot = state %s size %d owner %s desc %q vol %s, want pending 42 %s nightly %s",
					out.State, aws.ToInt32(out.VolumeSize), aws.ToString(out.OwnerId), aws.ToString(out.Description),
					aws.ToString(out.VolumeId), AccountID, volID)
			}
			if st := aws.ToTime(out.StartTime); st.Before(start) || st.After(time.Now().Add(time.Second)) {
				t.Errorf("StartTime = %v, want about now", st)
			}
			if len(out.Tags) != 1 || aws.ToString(out.Tags[0].Key) != "archiver" || aws.ToString(out.Tags[0].Value) != "xroad" {
				t.Errorf("Tags = %+v, want archiver=xroad", out.Tags)
			}

			if err := waitSnapshot(t, c, id, 5*time.Second); err != nil {
				t.Fatalf("waiter: %v", err)
			}
			if got := s.Calls("DescribeSnapshots"); got != tc.wantDescribes {
				t.Errorf("DescribeSnapshots calls = %d, want %d", got, tc.wantDescribes)
			}
			snaps := s.Snapshots(region)
			if len(snaps) != 1 || snaps[0].State != ec2types.SnapshotStateCompleted || aws.ToString(snaps[0].Progress) != "100%" {
				t.Fatalf("Snapshots = %+v, want one completed at 100%%", snaps)
			}
		})
	}
}

func TestProgressClimbsWhilePending(t *testing.T) {
	s := New(t)
	s.SnapshotPolls = 4
	s.AddVolume(region, volID, 8, region+"a")
	c := s.EC2(region)
	id := createSnapshot(t, c, volID, "", nil)
	var got []string
	for range 6 {
		out, err := c.DescribeSnapshots(testCtx(t), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(out.Snapshots[0].State)+" "+aws.ToString(out.Snapshots[0].Progress))
	}
	want := []string{"pending 0%", "pending 25%", "pending 50%", "pending 75%", "completed 100%", "completed 100%"}
	if !slices.Equal(got, want) {
		t.Errorf("states = %q, want %q", got, want)
	}
}

func TestSnapshotErrorFailsWaiter(t *testing.T) {
	tests := []struct {
		name   string
		failBy func(snapID string) string
	}{
		{"by snapshot ID", func(id string) string { return id }},
		{"by volume ID", func(string) string { return volID }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t)
			s.AddVolume(region, volID, 8, region+"a")
			c := s.EC2(region)
			id := createSnapshot(t, c, volID, "", nil)
			s.FailSnapshot(tc.failBy(id), "volume went away")

			err := waitSnapshot(t, c, id, 5*time.Second)
			if err == nil || !strings.Contains(err.Error(), "Failure") {
				t.Fatalf("waiter error = %v, want the waiter's failure state", err)
			}
			out, err := c.DescribeSnapshots(testCtx(t), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
			if err != nil {
				t.Fatal(err)
			}
			sn := out.Snapshots[0]
			if sn.State != ec2types.SnapshotStateError || aws.ToString(sn.StateMessage) != "volume went away" {
				t.Errorf("snapshot = %s %q, want error %q", sn.State, aws.ToString(sn.StateMessage), "volume went away")
			}
		})
	}
}

func TestNeverCompleteKeepsSnapshotPending(t *testing.T) {
	s := New(t)
	s.AddVolume(region, volID, 8, region+"a")
	c := s.EC2(region)
	id := createSnapshot(t, c, volID, "", nil)
	s.NeverComplete(id)

	err := waitSnapshot(t, c, id, 100*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "exceeded") {
		t.Fatalf("waiter error = %v, want the wait to time out", err)
	}
	if n := s.Calls("DescribeSnapshots"); n < 3 {
		t.Errorf("DescribeSnapshots calls = %d, want the waiter to have polled several times", n)
	}
	sn := s.Snapshots(region)[0]
	if sn.State != ec2types.SnapshotStatePending || aws.ToString(sn.Progress) == "100%" {
		t.Errorf("snapshot = %s %s, want pending below 100%%", sn.State, aws.ToString(sn.Progress))
	}
}

func TestDescribeVolumes(t *testing.T) {
	s := New(t)
	s.AddVolume(region, volID, 100, "eu-west-1b")
	s.AddVolume(otherRegion, "vol-other", 1, "eu-central-1a")
	out, err := s.EC2(region).DescribeVolumes(testCtx(t), &ec2.DescribeVolumesInput{VolumeIds: []string{volID}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Volumes) != 1 {
		t.Fatalf("got %d volumes, want 1", len(out.Volumes))
	}
	v := out.Volumes[0]
	if aws.ToInt32(v.Size) != 100 || aws.ToString(v.AvailabilityZone) != "eu-west-1b" || v.State != ec2types.VolumeStateInUse {
		t.Errorf("volume = size %d az %s state %s, want 100 eu-west-1b in-use", aws.ToInt32(v.Size), aws.ToString(v.AvailabilityZone), v.State)
	}
	all, err := s.EC2(region).DescribeVolumes(testCtx(t), &ec2.DescribeVolumesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Volumes) != 1 {
		t.Errorf("DescribeVolumes in %s found %d volumes, want 1 (volumes are per region)", region, len(all.Volumes))
	}
}

func TestDryRun(t *testing.T) {
	s := New(t)
	s.AddVolume(region, volID, 8, region+"a")
	_, err := s.EC2(region).CreateSnapshot(testCtx(t), &ec2.CreateSnapshotInput{VolumeId: aws.String(volID), DryRun: aws.Bool(true)})
	wantCode(t, err, "DryRunOperation")
	if n := len(s.Snapshots(region)); n != 0 {
		t.Errorf("dry run created %d snapshots", n)
	}
}
