package awsfake

import (
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func TestDescribeSnapshotsFilters(t *testing.T) {
	s := New(t)
	s.SnapshotPolls = 1000 // everything stays pending while described
	s.AddVolume(region, "vol-a", 8, region+"a")
	s.AddVolume(region, "vol-b", 8, region+"a")
	c := s.EC2(region)
	createSnapshot(t, c, "vol-a", "prod", map[string]string{"app": "xroad-prod", "env": "prod"})
	createSnapshot(t, c, "vol-a", "test", map[string]string{"app": "xroad-test"})
	createSnapshot(t, c, "vol-b", "plain", nil)
	s.AddVolume(otherRegion, "vol-a", 8, otherRegion+"a")
	createSnapshot(t, s.EC2(otherRegion), "vol-a", "elsewhere", map[string]string{"app": "xroad-prod"})

	f := func(name string, values ...string) ec2types.Filter {
		return ec2types.Filter{Name: aws.String(name), Values: values}
	}
	tests := []struct {
		name    string
		owners  []string
		filters []ec2types.Filter
		want    []string // descriptions, creation order
	}{
		{"no filter", nil, nil, []string{"prod", "test", "plain"}},
		{"owner self", []string{"self"}, nil, []string{"prod", "test", "plain"}},
		{"owner account ID", []string{AccountID}, nil, []string{"prod", "test", "plain"}},
		{"other owner", []string{"amazon"}, nil, nil},
		{"tag exact", nil, []ec2types.Filter{f("tag:app", "xroad-prod")}, []string{"prod"}},
		{"tag suffix wildcard", nil, []ec2types.Filter{f("tag:app", "xroad-*")}, []string{"prod", "test"}},
		{"tag any of values", nil, []ec2types.Filter{f("tag:app", "nope", "*-test")}, []string{"test"}},
		{"tag single-char wildcard", nil, []ec2types.Filter{f("tag:env", "pro?")}, []string{"prod"}},
		{"tag-key", nil, []ec2types.Filter{f("tag-key", "env")}, []string{"prod"}},
		{"volume-id", nil, []ec2types.Filter{f("volume-id", "vol-b")}, []string{"plain"}},
		{"status", nil, []ec2types.Filter{f("status", "pending")}, []string{"prod", "test", "plain"}},
		{"status completed", nil, []ec2types.Filter{f("status", "completed")}, nil},
		{"filters are ANDed", []string{"self"}, []ec2types.Filter{f("volume-id", "vol-a"), f("tag:app", "*test")}, []string{"test"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.DescribeSnapshots(testCtx(t), &ec2.DescribeSnapshotsInput{OwnerIds: tc.owners, Filters: tc.filters})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, sn := range out.Snapshots {
				got = append(got, aws.ToString(sn.Description))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}

	_, err := c.DescribeSnapshots(testCtx(t), &ec2.DescribeSnapshotsInput{Filters: []ec2types.Filter{f("no-such-filter", "x")}})
	wantCode(t, err, "InvalidParameterValue")
}

func TestDescribeSnapshotsPagination(t *testing.T) {
	s := New(t)
	s.AddVolume(region, volID, 8, region+"a")
	c := s.EC2(region)
	var want []string
	for i := range 12 {
		want = append(want, createSnapshot(t, c, volID, fmt.Sprint(i), nil))
	}

	p := ec2.NewDescribeSnapshotsPaginator(c, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, MaxResults: aws.Int32(5)})
	var got []string
	var sizes []int
	for p.HasMorePages() {
		out, err := p.NextPage(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(out.Snapshots))
		for _, sn := range out.Snapshots {
			got = append(got, aws.ToString(sn.SnapshotId))
		}
	}
	if !slices.Equal(sizes, []int{5, 5, 2}) {
		t.Errorf("page sizes = %v, want [5 5 2]", sizes)
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged IDs = %v, want %v", got, want)
	}

	tests := []struct {
		name string
		in   *ec2.DescribeSnapshotsInput
		code string
	}{
		{"MaxResults below 5", &ec2.DescribeSnapshotsInput{MaxResults: aws.Int32(4)}, "InvalidParameterValue"},
		{"MaxResults above 1000", &ec2.DescribeSnapshotsInput{MaxResults: aws.Int32(1001)}, "InvalidParameterValue"},
		{"MaxResults with SnapshotIds", &ec2.DescribeSnapshotsInput{MaxResults: aws.Int32(5), SnapshotIds: want[:1]}, "InvalidParameterCombination"},
		{"foreign NextToken", &ec2.DescribeSnapshotsInput{MaxResults: aws.Int32(5), NextToken: aws.String("bogus")}, "InvalidParameterValue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.DescribeSnapshots(testCtx(t), tc.in)
			wantCode(t, err, tc.code)
		})
	}
}

func TestEC2NotFoundCodes(t *testing.T) {
	s := New(t)
	s.AddVolume(region, volID, 8, region+"a")
	c := s.EC2(region)
	existing := createSnapshot(t, c, volID, "", nil)
	deleted := createSnapshot(t, c, volID, "", nil)
	if _, err := c.DeleteSnapshot(testCtx(t), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(deleted)}); err != nil {
		t.Fatalf("DeleteSnapshot: %v", err)
	}
	if snaps := s.Snapshots(region); len(snaps) != 1 || aws.ToString(snaps[0].SnapshotId) != existing {
		t.Fatalf("after delete Snapshots = %+v, want only %s", snaps, existing)
	}

	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"describe unknown snapshot", func() error {
			_, err := c.DescribeSnapshots(testCtx(t), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{existing, "snap-00000000000000000"}})
			return err
		}, "InvalidSnapshot.NotFound"},
		{"describe deleted snapshot", func() error {
			_, err := c.DescribeSnapshots(testCtx(t), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{deleted}})
			return err
		}, "InvalidSnapshot.NotFound"},
		{"delete deleted snapshot", func() error {
			_, err := c.DeleteSnapshot(testCtx(t), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(deleted)})
			return err
		}, "InvalidSnapshot.NotFound"},
		{"snapshot of unknown volume", func() error {
			_, err := c.CreateSnapshot(testCtx(t), &ec2.CreateSnapshotInput{VolumeId: aws.String("vol-missing")})
			return err
		}, "InvalidVolume.NotFound"},
		{"snapshot of a volume in another region", func() error {
			_, err := s.EC2(otherRegion).CreateSnapshot(testCtx(t), &ec2.CreateSnapshotInput{VolumeId: aws.String(volID)})
			return err
		}, "InvalidVolume.NotFound"},
		{"describe unknown volume", func() error {
			_, err := c.DescribeVolumes(testCtx(t), &ec2.DescribeVolumesInput{VolumeIds: []string{"vol-missing"}})
			return err
		}, "InvalidVolume.NotFound"},
		{"tag spec for another resource type", func() error {
			_, err := c.CreateSnapshot(testCtx(t), &ec2.CreateSnapshotInput{VolumeId: aws.String(volID),
				TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVolume,
					Tags: []ec2types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}}})
			return err
		}, "InvalidParameterValue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, tc.call(), tc.code)
		})
	}
}
