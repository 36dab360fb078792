package snapshot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/xroad-archiver/archiver/internal/store"
)

// EC2API is the part of the EC2 client this package uses; *ec2.Client
// satisfies it.
type EC2API interface {
	CreateSnapshot(context.Context, *ec2.CreateSnapshotInput, ...func(*ec2.Options)) (*ec2.CreateSnapshotOutput, error)
	DescribeSnapshots(context.Context, *ec2.DescribeSnapshotsInput, ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error)
	DeleteSnapshot(context.Context, *ec2.DeleteSnapshotInput, ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error)
	CopySnapshot(context.Context, *ec2.CopySnapshotInput, ...func(*ec2.Options)) (*ec2.CopySnapshotOutput, error)
}

var _ EC2API = (*ec2.Client)(nil)

// EBS snapshots EBS volumes.
type EBS struct {
	API     EC2API
	Region  string
	Cluster string
	Wait    Waiting
	// DR, when set, copies every snapshot to another region.
	DR *DRCopy
}

// DRCopy is a disaster-recovery copy target: a client for the destination
// region (EC2 copies are requested there), and an optional KMS key.
type DRCopy struct {
	API      EC2API
	Region   string
	KMSKeyID string
}

// ErrFailed means AWS reported the backup as failed.
var ErrFailed = errors.New("backup failed")

func ec2Tags(t map[string]string) []ec2types.Tag {
	var out []ec2types.Tag
	for _, k := range sortedKeys(t) {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(t[k])})
	}
	return out
}

func tagMap(tags []ec2types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// Snapshot creates (or, for a rerun of the same run id, finds) the
// snapshot of v, waits until it is completed, and makes the DR copy.
func (b *EBS) Snapshot(ctx context.Context, v Volume, runID, manifestKey string) (Artifact, error) {
	a, err := b.start(ctx, v, runID, manifestKey)
	if err != nil {
		return a, err
	}
	return b.complete(ctx, a, tagsFor(v, b.Cluster, runID, manifestKey))
}

// start creates (or finds) the snapshot: once it returns, the snapshot's
// point in time is taken (EBS holds the data written before the call),
// and what is left is waiting on AWS.
func (b *EBS) start(ctx context.Context, v Volume, runID, manifestKey string) (Artifact, error) {
	tags := tagsFor(v, b.Cluster, runID, manifestKey)
	a := Artifact{Kind: "ebs-snapshot", Region: b.Region, RunID: runID}
	existing, err := b.find(ctx, b.API, []ec2types.Filter{
		{Name: aws.String("tag:" + TagRunID), Values: []string{runID}},
		{Name: aws.String("tag:" + TagPV), Values: []string{v.PV}},
		{Name: aws.String("volume-id"), Values: []string{v.VolumeID}},
	})
	if err != nil {
		return a, fmt.Errorf("look for snapshot of %s from run %s: %w", v.VolumeID, runID, err)
	}
	var snap ec2types.Snapshot
	if len(existing) > 0 && existing[0].State != ec2types.SnapshotStateError {
		snap, a.Reused = existing[0], true
	} else {
		out, err := b.API.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{
			VolumeId:          aws.String(v.VolumeID),
			Description:       aws.String(fmt.Sprintf("archiver run %s of PVC %s (PV %s)", runID, v.Ref(), v.PV)),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSnapshot, Tags: ec2Tags(tags)}},
		})
		if err != nil {
			return a, fmt.Errorf("create snapshot of %s: %w", v.VolumeID, err)
		}
		snap = ec2types.Snapshot{SnapshotId: out.SnapshotId, State: out.State, StartTime: out.StartTime, VolumeSize: out.VolumeSize}
	}
	a.ID = aws.ToString(snap.SnapshotId)
	if snap.StartTime != nil {
		a.Started = *snap.StartTime
	}
	return a, nil
}

// complete waits for a started snapshot and makes the DR copy.
func (b *EBS) complete(ctx context.Context, a Artifact, tags map[string]string) (Artifact, error) {
	done, err := b.wait(ctx, b.API, a.ID)
	a.State, a.Message = string(done.State), aws.ToString(done.StateMessage)
	a.SizeBytes = int64(aws.ToInt32(done.VolumeSize)) << 30
	if err != nil {
		return a, err
	}
	if b.DR != nil {
		c, err := b.copy(ctx, a.ID, tags)
		a.Copies = append(a.Copies, c)
		if err != nil {
			return a, err
		}
	}
	return a, nil
}

func (b *EBS) copy(ctx context.Context, id string, tags map[string]string) (Artifact, error) {
	c := Artifact{Kind: "ebs-copy", Region: b.DR.Region, RunID: tags[TagRunID]}
	ct := map[string]string{TagSource: id}
	for k, v := range tags {
		ct[k] = v
	}
	existing, err := b.find(ctx, b.DR.API, []ec2types.Filter{{Name: aws.String("tag:" + TagSource), Values: []string{id}}})
	if err != nil {
		return c, fmt.Errorf("look for the %s copy of %s: %w", b.DR.Region, id, err)
	}
	if len(existing) > 0 && existing[0].State != ec2types.SnapshotStateError {
		c.ID, c.Reused = aws.ToString(existing[0].SnapshotId), true
	} else {
		in := &ec2.CopySnapshotInput{SourceRegion: aws.String(b.Region), SourceSnapshotId: aws.String(id),
			Description:       aws.String("archiver disaster-recovery copy of " + id),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSnapshot, Tags: ec2Tags(ct)}}}
		if b.DR.KMSKeyID != "" {
			in.Encrypted, in.KmsKeyId = aws.Bool(true), aws.String(b.DR.KMSKeyID)
		}
		out, err := b.DR.API.CopySnapshot(ctx, in)
		if err != nil {
			return c, fmt.Errorf("copy %s to %s: %w", id, b.DR.Region, err)
		}
		c.ID = aws.ToString(out.SnapshotId)
	}
	done, err := b.wait(ctx, b.DR.API, c.ID)
	c.State, c.Message = string(done.State), aws.ToString(done.StateMessage)
	if done.StartTime != nil {
		c.Started = *done.StartTime
	}
	return c, err
}

// find lists archiver's snapshots matching filters, newest first.
func (b *EBS) find(ctx context.Context, api EC2API, filters []ec2types.Filter) ([]ec2types.Snapshot, error) {
	filters = append([]ec2types.Filter{{Name: aws.String("tag:" + TagManagedBy), Values: []string{ManagedBy}}}, filters...)
	var out []ec2types.Snapshot
	p := ec2.NewDescribeSnapshotsPaginator(api, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: filters, MaxResults: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Snapshots...)
	}
	sortSnapshots(out)
	return out, nil
}

func sortSnapshots(s []ec2types.Snapshot) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && aws.ToTime(s[j].StartTime).After(aws.ToTime(s[j-1].StartTime)); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// wait polls until the snapshot is completed (nil), in error (ErrFailed
// with AWS's message), or the wait times out.
func (b *EBS) wait(ctx context.Context, api EC2API, id string) (ec2types.Snapshot, error) {
	var last ec2types.Snapshot
	err := poll(ctx, b.Wait, "snapshot "+id, func(ctx context.Context) (string, error) {
		out, err := api.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
		if err != nil {
			return "", fmt.Errorf("describe snapshot %s: %w", id, err)
		}
		if len(out.Snapshots) == 0 {
			return "", fmt.Errorf("snapshot %s disappeared", id)
		}
		last = out.Snapshots[0]
		switch last.State {
		case ec2types.SnapshotStateCompleted:
			return "", errDone
		case ec2types.SnapshotStateError:
			return "", fmt.Errorf("snapshot %s: %w: %s", id, ErrFailed, aws.ToString(last.StateMessage))
		}
		return fmt.Sprintf("%s %s", last.State, aws.ToString(last.Progress)), nil
	})
	return last, err
}

// List returns archiver's snapshots of a PV (and, with DR, the copies).
func (b *EBS) List(ctx context.Context, v Volume) ([]Artifact, error) {
	var out []Artifact
	add := func(api EC2API, region, kind string) error {
		snaps, err := b.find(ctx, api, []ec2types.Filter{{Name: aws.String("tag:" + TagPV), Values: []string{v.PV}}})
		if err != nil {
			return fmt.Errorf("list snapshots in %s: %w", region, err)
		}
		for _, s := range snaps {
			out = append(out, snapshotArtifact(s, region, kind))
		}
		return nil
	}
	if err := add(b.API, b.Region, "ebs-snapshot"); err != nil {
		return nil, err
	}
	if b.DR != nil {
		if err := add(b.DR.API, b.DR.Region, "ebs-copy"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func snapshotArtifact(s ec2types.Snapshot, region, kind string) Artifact {
	t := tagMap(s.Tags)
	if t[TagSource] != "" {
		kind = "ebs-copy"
	}
	return Artifact{Kind: kind, ID: aws.ToString(s.SnapshotId), Region: region, State: string(s.State),
		Message: aws.ToString(s.StateMessage), SizeBytes: int64(aws.ToInt32(s.VolumeSize)) << 30,
		Started: aws.ToTime(s.StartTime), RunID: t[TagRunID]}
}

// Describe returns one of archiver's snapshots (in b.Region) and the
// volume its tags name: what a recovery needs when the PVC is gone.
func (b *EBS) Describe(ctx context.Context, id string) (Volume, Artifact, error) {
	out, err := b.API.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
	if err != nil {
		return Volume{}, Artifact{}, fmt.Errorf("describe %s: %w", id, err)
	}
	if len(out.Snapshots) != 1 {
		return Volume{}, Artifact{}, fmt.Errorf("snapshot %s not found in %s", id, b.Region)
	}
	s := out.Snapshots[0]
	t := tagMap(s.Tags)
	if t[TagManagedBy] != ManagedBy || t[TagPVC] == "" {
		return Volume{}, Artifact{}, fmt.Errorf("%s was not made by archiver (no %s tags)", id, ManagedBy)
	}
	a := snapshotArtifact(s, b.Region, "ebs-snapshot")
	v := Volume{Namespace: t[TagNamespace], PVC: t[TagPVC], PV: t[TagPV], Kind: KindEBS, VolumeID: aws.ToString(s.VolumeId), SizeBytes: a.SizeBytes}
	return v, a, nil
}

// Prune applies the policy to archiver's completed snapshots of v (and
// separately to the DR copies) and deletes the rest unless dryRun. It
// returns what it deleted or would delete.
func (b *EBS) Prune(ctx context.Context, v Volume, p Policy, dryRun bool, loc *time.Location) ([]Artifact, error) {
	all, err := b.List(ctx, v)
	if err != nil {
		return nil, err
	}
	var deleted []Artifact
	for _, region := range []string{b.Region, drRegion(b.DR)} {
		if region == "" {
			continue
		}
		var items []Item
		byID := map[string]Artifact{}
		for _, a := range all {
			if a.Region == region && a.State == string(ec2types.SnapshotStateCompleted) {
				items = append(items, Item{ID: a.ID, Time: a.Started})
				byID[a.ID] = a
			}
		}
		_, drop := Apply(items, p, loc)
		api := b.API
		if region != b.Region {
			api = b.DR.API
		}
		for _, it := range drop {
			if !dryRun {
				_, err := api.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(it.ID)})
				if err != nil && !store.IsCode(err, "InvalidSnapshot.NotFound") {
					return deleted, fmt.Errorf("delete snapshot %s: %w", it.ID, err)
				}
			}
			deleted = append(deleted, byID[it.ID])
		}
	}
	return deleted, nil
}

func drRegion(d *DRCopy) string {
	if d == nil {
		return ""
	}
	return d.Region
}
