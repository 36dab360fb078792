package awsfake

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func TestCopySnapshotAcrossRegions(t *testing.T) {
	s := New(t)
	s.AddVolume(region, volID, 16, region+"a")
	src := s.EC2(region)
	dst := s.EC2(otherRegion)
	srcID := createSnapshot(t, src, volID, "orig", nil)
	if err := waitSnapshot(t, src, srcID, 5*time.Second); err != nil {
		t.Fatalf("source waiter: %v", err)
	}

	out, err := dst.CopySnapshot(testCtx(t), &ec2.CopySnapshotInput{
		SourceRegion:     aws.String(region),
		SourceSnapshotId: aws.String(srcID),
		Encrypted:        aws.Bool(true),
		KmsKeyId:         aws.String("alias/archive"),
		TagSpecifications: []ec2types.TagSpecification{{
			ResourceType: ec2types.ResourceTypeSnapshot,
			Tags:         []ec2types.Tag{{Key: aws.String("copy-of"), Value: aws.String(srcID)}},
		}},
	})
	if err != nil {
		t.Fatalf("CopySnapshot: %v", err)
	}
	copyID := aws.ToString(out.SnapshotId)
	if !snapshotIDPattern.MatchString(copyID) || copyID == srcID {
		t.Fatalf("copy SnapshotId = %q, want a new snapshot ID", copyID)
	}
	if len(out.Tags) != 1 || aws.ToString(out.Tags[0].Value) != srcID {
		t.Errorf("copy Tags = %+v, want copy-of=%s", out.Tags, srcID)
	}
	if err := waitSnapshot(t, dst, copyID, 5*time.Second); err != nil {
		t.Fatalf("destination waiter: %v", err)
	}

	dstSnaps, srcSnaps := s.Snapshots(otherRegion), s.Snapshots(region)
	if len(dstSnaps) != 1 || len(srcSnaps) != 1 {
		t.Fatalf("got %d snapshots in %s and %d in %s, want 1 and 1", len(dstSnaps), otherRegion, len(srcSnaps), region)
	}
	c := dstSnaps[0]
	if aws.ToString(c.SnapshotId) != copyID || !aws.ToBool(c.Encrypted) || aws.ToString(c.KmsKeyId) != "alias/archive" ||
		aws.ToInt32(c.VolumeSize) != 16 || c.State != ec2types.SnapshotStateCompleted {
		t.Errorf("copy = %+v, want %s encrypted with alias/archive, 16 GiB, completed", c, copyID)
	}
	if _, err := src.DescribeSnapshots(testCtx(t), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{copyID}}); err == nil {
		t.Errorf("the copy is visible in the source region")
	} else {
		wantCode(t, err, "InvalidSnapshot.NotFound")
	}
}

func TestCopySnapshotErrors(t *testing.T) {
	s := New(t)
	s.SnapshotPolls = 1000
	s.AddVolume(region, volID, 8, region+"a")
	pending := createSnapshot(t, s.EC2(region), volID, "", nil)
	dst := s.EC2(otherRegion)

	tests := []struct {
		name string
		in   ec2.CopySnapshotInput
		code string
	}{
		{"source not completed", ec2.CopySnapshotInput{SourceRegion: aws.String(region), SourceSnapshotId: aws.String(pending)}, "IncorrectState"},
		{"source in another region", ec2.CopySnapshotInput{SourceRegion: aws.String(otherRegion), SourceSnapshotId: aws.String(pending)}, "InvalidSnapshot.NotFound"},
		{"unknown source", ec2.CopySnapshotInput{SourceRegion: aws.String(region), SourceSnapshotId: aws.String("snap-00000000000000000")}, "InvalidSnapshot.NotFound"},
		{"KmsKeyId without Encrypted", ec2.CopySnapshotInput{SourceRegion: aws.String(region), SourceSnapshotId: aws.String(pending),
			KmsKeyId: aws.String("alias/archive")}, "InvalidParameterDependency"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dst.CopySnapshot(testCtx(t), &tc.in)
			wantCode(t, err, tc.code)
			if n := len(s.Snapshots(otherRegion)); n != 0 {
				t.Errorf("a failed copy left %d snapshots", n)
			}
		})
	}
}
