package awsfake

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// ec2Region is the EC2 state of one region.
type ec2Region struct {
	volumes   map[string]*volume
	snapshots map[string]*snapshot
	order     []string // snapshot IDs in creation order, for stable pages
}

// regionLocked returns the state of region, creating it. s.mu must be held.
func (s *Server) regionLocked(region string) *ec2Region {
	r, ok := s.ec2[region]
	if !ok {
		r = &ec2Region{volumes: map[string]*volume{}, snapshots: map[string]*snapshot{}}
		s.ec2[region] = r
	}
	return r
}

func (r *ec2Region) add(sn *snapshot) {
	r.snapshots[sn.id] = sn
	r.order = append(r.order, sn.id)
}

func (r *ec2Region) remove(id string) {
	delete(r.snapshots, id)
	for i, o := range r.order {
		if o == id {
			r.order = append(r.order[:i], r.order[i+1:]...)
			return
		}
	}
}

// snapshot is one EBS snapshot.
type snapshot struct {
	id          string
	volumeID    string
	sourceID    string // snapshot this one was copied from
	size        int32
	description string
	encrypted   bool
	kmsKeyID    string
	tags        []xmlTag
	start       time.Time
	state       ec2types.SnapshotState
	message     string
	progress    int
	polls       int
}

func newSnapshotID() string { return "snap-" + newID(17) }

// poll moves sn on by one DescribeSnapshots. s.mu must be held.
func (s *Server) pollSnapshotLocked(sn *snapshot) {
	if sn.state != ec2types.SnapshotStatePending {
		return
	}
	o := s.outcomeLocked(snapshotOutcome, sn.id, sn.volumeID, sn.sourceID)
	pct, done := progress(sn.polls, s.SnapshotPolls, o)
	sn.polls++
	switch {
	case !done:
		sn.progress = pct
	case o.state == "":
		sn.state, sn.progress = ec2types.SnapshotStateCompleted, 100
	default:
		sn.state, sn.message = ec2types.SnapshotState(o.state), o.message
	}
}

// xmlSnapshot is a snapshot as EC2 writes it.
type xmlSnapshot struct {
	SnapshotID    string   `xml:"snapshotId"`
	VolumeID      string   `xml:"volumeId"`
	Status        string   `xml:"status"`
	StatusMessage string   `xml:"statusMessage,omitempty"`
	StartTime     string   `xml:"startTime"`
	Progress      string   `xml:"progress"`
	OwnerID       string   `xml:"ownerId"`
	VolumeSize    int32    `xml:"volumeSize"`
	Description   string   `xml:"description"`
	Encrypted     bool     `xml:"encrypted"`
	KmsKeyID      string   `xml:"kmsKeyId,omitempty"`
	Tags          []xmlTag `xml:"tagSet>item"`
}

func (sn *snapshot) xml() xmlSnapshot {
	return xmlSnapshot{
		SnapshotID:    sn.id,
		VolumeID:      sn.volumeID,
		Status:        string(sn.state),
		StatusMessage: sn.message,
		StartTime:     ec2Time(sn.start),
		Progress:      fmt.Sprintf("%d%%", sn.progress),
		OwnerID:       AccountID,
		VolumeSize:    sn.size,
		Description:   sn.description,
		Encrypted:     sn.encrypted,
		KmsKeyID:      sn.kmsKeyID,
		Tags:          sn.tags,
	}
}

func (sn *snapshot) api() ec2types.Snapshot {
	out := ec2types.Snapshot{
		SnapshotId:  aws.String(sn.id),
		VolumeId:    aws.String(sn.volumeID),
		State:       sn.state,
		StartTime:   aws.Time(sn.start),
		Progress:    aws.String(fmt.Sprintf("%d%%", sn.progress)),
		OwnerId:     aws.String(AccountID),
		VolumeSize:  aws.Int32(sn.size),
		Description: aws.String(sn.description),
		Encrypted:   aws.Bool(sn.encrypted),
	}
	if sn.message != "" {
		out.StateMessage = aws.String(sn.message)
	}
	if sn.kmsKeyID != "" {
		out.KmsKeyId = aws.String(sn.kmsKeyID)
	}
	for _, t := range sn.tags {
		out.Tags = append(out.Tags, ec2types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	return out
}

// Snapshots returns the snapshots of region in creation order, as the fake
// holds them now (describing them does not advance them).
func (s *Server) Snapshots(region string) []ec2types.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.regionLocked(region)
	out := make([]ec2types.Snapshot, 0, len(r.order))
	for _, id := range r.order {
		out = append(out, r.snapshots[id].api())
	}
	return out
}
