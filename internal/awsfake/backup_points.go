package awsfake

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
)

// listRecoveryPointsByResource lists the recovery points of a resource,
// newest first; an unknown resource has none.
func (s *Server) listRecoveryPointsByResource(resourceARN string, max int, token string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []backuptypes.RecoveryPointByResource
	for _, p := range slices.Backward(s.backup.points) {
		if *p.rp.ResourceArn != resourceARN {
			continue
		}
		all = append(all, backuptypes.RecoveryPointByResource{
			BackupSizeBytes:  p.rp.BackupSizeInBytes,
			BackupVaultName:  p.rp.BackupVaultName,
			CreationDate:     p.rp.CreationDate,
			RecoveryPointArn: p.rp.RecoveryPointArn,
			Status:           p.rp.Status,
			StatusMessage:    p.rp.StatusMessage,
		})
	}
	pg, next, ok := page(all, max, token)
	if !ok {
		return nil, backupError(http.StatusBadRequest, "InvalidParameterValueException", "invalid nextToken")
	}
	out := &backup.ListRecoveryPointsByResourceOutput{RecoveryPoints: pg}
	if next != "" {
		out.NextToken = aws.String(next)
	}
	return out, nil
}

// listTags returns the tags of a recovery point, or none for a vault; any
// other ARN is ResourceNotFoundException.
func (s *Server) listTags(arn string, max int, token string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var tags map[string]string
	switch p := s.backup.point(arn); {
	case p != nil:
		tags = p.tags
	case strings.Contains(arn, ":backup-vault:") && s.backup.vaults[arn[strings.LastIndex(arn, ":")+1:]]:
	default:
		return nil, backupNotFound("Resource %s not found", arn)
	}
	keys := slices.Sorted(maps.Keys(tags))
	pg, next, ok := page(keys, max, token)
	if !ok {
		return nil, backupError(http.StatusBadRequest, "InvalidParameterValueException", "invalid nextToken")
	}
	out := &backup.ListTagsOutput{Tags: map[string]string{}}
	for _, k := range pg {
		out.Tags[k] = tags[k]
	}
	if next != "" {
		out.NextToken = aws.String(next)
	}
	return out, nil
}

// deleteRecoveryPoint: the point must exist in that vault, and must not be
// still CREATING.
func (s *Server) deleteRecoveryPoint(vault, arn string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.backup.point(arn)
	if p == nil || *p.rp.BackupVaultName != vault {
		return nil, backupNotFound("Recovery point %s not found in backup vault %s", arn, vault)
	}
	if p.rp.Status == backuptypes.RecoveryPointStatusCreating {
		return nil, backupError(http.StatusBadRequest, "InvalidResourceStateException",
			"Recovery point "+arn+" is still being created")
	}
	s.backup.removePoint(arn)
	return &backup.DeleteRecoveryPointOutput{}, nil
}

// restoreMetadata returns what a restore of the point needs: for EFS the
// keys file-system-id, Encrypted, KmsKeyId, PerformanceMode, CreationToken
// and newFileSystem; for EBS availabilityZone, volumeSize (from AddVolume
// when the volume was seeded), volumeType and encrypted.
func (s *Server) restoreMetadata(vault, arn string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.backup.point(arn)
	if p == nil || *p.rp.BackupVaultName != vault {
		return nil, backupNotFound("Recovery point %s not found in backup vault %s", arn, vault)
	}
	_, region, resource, _ := arnParts(*p.rp.ResourceArn)
	_, id, _ := strings.Cut(resource, "/")
	var md map[string]string
	switch *p.rp.ResourceType {
	case "EFS":
		md = map[string]string{
			"file-system-id":  id,
			"Encrypted":       "false",
			"KmsKeyId":        "",
			"PerformanceMode": "generalPurpose",
			"CreationToken":   newUUID(),
			"newFileSystem":   "true",
		}
	case "EBS":
		md = map[string]string{
			"availabilityZone": region + "a",
			"volumeSize":       "8",
			"volumeType":       "gp3",
			"encrypted":        "false",
		}
		if v, ok := s.regionLocked(region).volumes[id]; ok {
			md["availabilityZone"], md["volumeSize"] = v.az, strconv.Itoa(int(v.size))
		}
	default:
		md = map[string]string{}
	}
	return &backup.GetRecoveryPointRestoreMetadataOutput{
		BackupVaultArn:   p.rp.BackupVaultArn,
		RecoveryPointArn: p.rp.RecoveryPointArn,
		ResourceType:     p.rp.ResourceType,
		RestoreMetadata:  md,
	}, nil
}
