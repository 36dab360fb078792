package awsfake

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// createSnapshot: VolumeId must exist in the region; TagSpecifications of
// type snapshot are applied at creation. The answer is the new snapshot,
// pending.
func (s *Server) createSnapshot(region string, f ec2Form) (any, *apiError) {
	volID := f.get("VolumeId")
	if volID == "" {
		return nil, ec2Error("MissingParameter", "The request must contain the parameter volume")
	}
	tags, aerr := f.tags("snapshot")
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.regionLocked(region)
	vol, ok := r.volumes[volID]
	if !ok {
		return nil, ec2Error("InvalidVolume.NotFound", fmt.Sprintf("The volume '%s' does not exist.", volID))
	}
	sn := &snapshot{
		id:          newSnapshotID(),
		volumeID:    volID,
		size:        vol.size,
		description: f.get("Description"),
		tags:        tags,
		start:       time.Now().UTC(),
		state:       ec2types.SnapshotStatePending,
	}
	r.add(sn)
	return sn.xml(), nil
}

type describeSnapshotsResponse struct {
	Snapshots []xmlSnapshot `xml:"snapshotSet>item"`
	NextToken string        `xml:"nextToken,omitempty"`
}

// describeSnapshots supports SnapshotId.N (every ID must exist), Owner.N
// ("self" or AccountID), the filters in snapshotFilter, and MaxResults
// (5..1000, not together with SnapshotId) with NextToken. Every snapshot
// returned is polled once (see Server.SnapshotPolls).
func (s *Server) describeSnapshots(region string, f ec2Form) (any, *apiError) {
	ids := f.list("SnapshotId")
	max, aerr := f.maxResults(5, 1000)
	if aerr != nil {
		return nil, aerr
	}
	if len(ids) > 0 && f.has("MaxResults") {
		return nil, ec2Error("InvalidParameterCombination",
			"The parameter snapshotSet cannot be used with the parameter maxResults")
	}
	owners := f.list("Owner")
	filters := f.filters()

	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.regionLocked(region)
	candidates := r.order
	if len(ids) > 0 {
		for _, id := range ids {
			if _, ok := r.snapshots[id]; !ok {
				return nil, ec2Error("InvalidSnapshot.NotFound", fmt.Sprintf("The snapshot '%s' does not exist.", id))
			}
		}
		candidates = ids
	}
	var matched []*snapshot
	for _, id := range candidates {
		sn := r.snapshots[id]
		ok := len(owners) == 0 || ownedBySelf(owners)
		for _, flt := range filters {
			if !ok {
				break
			}
			var aerr *apiError
			if ok, aerr = sn.matches(flt); aerr != nil {
				return nil, aerr
			}
		}
		if ok {
			matched = append(matched, sn)
		}
	}
	pg, next, ok := page(matched, max, f.get("NextToken"))
	if !ok {
		return nil, ec2Error("InvalidParameterValue", "The token '"+f.get("NextToken")+"' is invalid.")
	}
	resp := describeSnapshotsResponse{NextToken: next}
	for _, sn := range pg {
		s.pollSnapshotLocked(sn)
		resp.Snapshots = append(resp.Snapshots, sn.xml())
	}
	return resp, nil
}

func ownedBySelf(owners []string) bool {
	for _, o := range owners {
		if o == "self" || o == AccountID {
			return true
		}
	}
	return false
}

// matches applies one DescribeSnapshots filter; values may use * and ?.
func (sn *snapshot) matches(f filter) (bool, *apiError) {
	switch {
	case strings.HasPrefix(f.name, "tag:"):
		key := strings.TrimPrefix(f.name, "tag:")
		for _, t := range sn.tags {
			if t.Key == key && globAny(f.values, t.Value) {
				return true, nil
			}
		}
		return false, nil
	case f.name == "tag-key":
		for _, t := range sn.tags {
			if globAny(f.values, t.Key) {
				return true, nil
			}
		}
		return false, nil
	case f.name == "volume-id":
		return globAny(f.values, sn.volumeID), nil
	case f.name == "status":
		return globAny(f.values, string(sn.state)), nil
	case f.name == "snapshot-id":
		return globAny(f.values, sn.id), nil
	case f.name == "owner-id":
		return globAny(f.values, AccountID), nil
	case f.name == "description":
		return globAny(f.values, sn.description), nil
	case f.name == "encrypted":
		return globAny(f.values, strconv.FormatBool(sn.encrypted)), nil
	}
	return false, ec2Error("InvalidParameterValue", fmt.Sprintf("The filter '%s' is invalid", f.name))
}

type deleteSnapshotResponse struct {
	Return bool `xml:"return"`
}

// deleteSnapshot: a missing snapshot is InvalidSnapshot.NotFound.
func (s *Server) deleteSnapshot(region string, f ec2Form) (any, *apiError) {
	id := f.get("SnapshotId")
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.regionLocked(region)
	if _, ok := r.snapshots[id]; !ok {
		return nil, ec2Error("InvalidSnapshot.NotFound", fmt.Sprintf("The snapshot '%s' does not exist.", id))
	}
	r.remove(id)
	return deleteSnapshotResponse{Return: true}, nil
}

type copySnapshotResponse struct {
	SnapshotID string   `xml:"snapshotId"`
	Tags       []xmlTag `xml:"tagSet>item"`
}

// copySnapshot runs in the destination region (the client's) and copies a
// completed snapshot of SourceRegion. KmsKeyId requires Encrypted=true.
func (s *Server) copySnapshot(region string, f ec2Form) (any, *apiError) {
	srcRegion, srcID := f.get("SourceRegion"), f.get("SourceSnapshotId")
	switch {
	case srcRegion == "":
		return nil, ec2Error("MissingParameter", "The request must contain the parameter SourceRegion")
	case srcID == "":
		return nil, ec2Error("MissingParameter", "The request must contain the parameter SourceSnapshotId")
	case f.has("KmsKeyId") && f.get("Encrypted") != "true":
		return nil, ec2Error("InvalidParameterDependency",
			"The parameter KmsKeyId requires the parameter Encrypted to be set.")
	}
	tags, aerr := f.tags("snapshot")
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	src, ok := s.regionLocked(srcRegion).snapshots[srcID]
	if !ok {
		return nil, ec2Error("InvalidSnapshot.NotFound", fmt.Sprintf("The snapshot '%s' does not exist.", srcID))
	}
	if src.state != ec2types.SnapshotStateCompleted {
		return nil, ec2Error("IncorrectState", fmt.Sprintf("Snapshot is in invalid state - %s", src.state))
	}
	desc := f.get("Description")
	if !f.has("Description") {
		desc = fmt.Sprintf("[Copied %s from %s]", srcID, srcRegion)
	}
	sn := &snapshot{
		id:          newSnapshotID(),
		volumeID:    "vol-ffffffff", // what EC2 reports for copies
		sourceID:    srcID,
		size:        src.size,
		description: desc,
		encrypted:   src.encrypted || f.get("Encrypted") == "true",
		kmsKeyID:    f.get("KmsKeyId"),
		tags:        tags,
		start:       time.Now().UTC(),
		state:       ec2types.SnapshotStatePending,
	}
	if sn.kmsKeyID == "" && sn.encrypted {
		sn.kmsKeyID = src.kmsKeyID
	}
	s.regionLocked(region).add(sn)
	return copySnapshotResponse{SnapshotID: sn.id, Tags: tags}, nil
}
