package awsfake

import (
	"fmt"
	"time"
)

// volume is an EBS volume seeded with AddVolume.
type volume struct {
	id      string
	size    int32
	az      string
	created time.Time
}

// AddVolume makes an in-use EBS volume exist in region, so CreateSnapshot
// and DescribeVolumes find it.
func (s *Server) AddVolume(region, volumeID string, sizeGiB int32, az string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.regionLocked(region).volumes[volumeID] = &volume{
		id: volumeID, size: sizeGiB, az: az, created: time.Now().UTC(),
	}
}

type xmlAttachment struct {
	VolumeID   string `xml:"volumeId"`
	InstanceID string `xml:"instanceId"`
	Device     string `xml:"device"`
	Status     string `xml:"status"`
}

type xmlVolume struct {
	VolumeID         string          `xml:"volumeId"`
	Size             int32           `xml:"size"`
	AvailabilityZone string          `xml:"availabilityZone"`
	Status           string          `xml:"status"`
	CreateTime       string          `xml:"createTime"`
	VolumeType       string          `xml:"volumeType"`
	Encrypted        bool            `xml:"encrypted"`
	Attachments      []xmlAttachment `xml:"attachmentSet>item"`
}

type describeVolumesResponse struct {
	Volumes   []xmlVolume `xml:"volumeSet>item"`
	NextToken string      `xml:"nextToken,omitempty"`
}

// describeVolumes supports VolumeId.N (every ID must exist) and MaxResults
// (5..500, not together with VolumeId) with NextToken; filters are not
// modelled and are refused.
func (s *Server) describeVolumes(region string, f ec2Form) (any, *apiError) {
	if fl := f.filters(); len(fl) > 0 {
		return nil, ec2Error("InvalidParameterValue", fmt.Sprintf("The filter '%s' is invalid (awsfake models none for DescribeVolumes)", fl[0].name))
	}
	ids := f.list("VolumeId")
	max, aerr := f.maxResults(5, 500)
	if aerr != nil {
		return nil, aerr
	}
	if len(ids) > 0 && f.has("MaxResults") {
		return nil, ec2Error("InvalidParameterCombination",
			"The parameter volumeSet cannot be used with the parameter maxResults")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.regionLocked(region)
	var vols []*volume
	if len(ids) > 0 {
		for _, id := range ids {
			v, ok := r.volumes[id]
			if !ok {
				return nil, ec2Error("InvalidVolume.NotFound", fmt.Sprintf("The volume '%s' does not exist.", id))
			}
			vols = append(vols, v)
		}
	} else {
		for _, v := range r.volumes {
			vols = append(vols, v)
		}
		sortBy(vols, func(v *volume) string { return v.id })
	}
	pg, next, ok := page(vols, max, f.get("NextToken"))
	if !ok {
		return nil, ec2Error("InvalidParameterValue", "The token '"+f.get("NextToken")+"' is invalid.")
	}
	resp := describeVolumesResponse{NextToken: next}
	for _, v := range pg {
		resp.Volumes = append(resp.Volumes, xmlVolume{
			VolumeID:         v.id,
			Size:             v.size,
			AvailabilityZone: v.az,
			Status:           "in-use",
			CreateTime:       ec2Time(v.created),
			VolumeType:       "gp3",
			Attachments: []xmlAttachment{{
				VolumeID: v.id, InstanceID: "i-0123456789abcdef0", Device: "/dev/xvdf", Status: "attached",
			}},
		})
	}
	return resp, nil
}
