package awsfake

import (
	"fmt"
	"maps"
	"strings"

	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
)

// defaultVault exists without AddVault, as in every real account.
const defaultVault = "Default"

// backupState is the AWS Backup state (account-wide; ARNs carry the region
// of the request that created them).
type backupState struct {
	vaults        map[string]bool
	jobs          []*backupJob
	jobTokens     map[string]*backupJob // IdempotencyToken + resource ARN
	points        []*recoveryPoint
	restores      []*restoreJob
	restoreTokens map[string]*restoreJob // IdempotencyToken + recovery point ARN
}

func newBackupState() backupState {
	return backupState{
		vaults:        map[string]bool{defaultVault: true},
		jobTokens:     map[string]*backupJob{},
		restoreTokens: map[string]*restoreJob{},
	}
}

// backupJob is a backup job as ListBackupJobs would show it, plus its
// progress through the polls.
type backupJob struct {
	job   backuptypes.BackupJob
	tags  map[string]string // RecoveryPointTags
	polls int
}

// recoveryPoint is a recovery point and its tags.
type recoveryPoint struct {
	rp   backuptypes.RecoveryPointByBackupVault
	tags map[string]string
}

// restoreJob is a restore job, the metadata it was started with, and its
// progress through the polls.
type restoreJob struct {
	job      backuptypes.RestoreJobsListMember
	metadata map[string]string
	polls    int
}

// AddVault makes a backup vault exist; "Default" always does. StartBackupJob
// into any other vault is ResourceNotFoundException.
func (s *Server) AddVault(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.backup.vaults[name] = true
}

// RecoveryPoint is a recovery point as the fake holds it.
type RecoveryPoint struct {
	backuptypes.RecoveryPointByBackupVault
	Tags map[string]string
}

// RestoreJob is a restore job as the fake holds it, with the Metadata it was
// started with.
type RestoreJob struct {
	backuptypes.RestoreJobsListMember
	Metadata map[string]string
}

// BackupJobs returns every backup job started, oldest first.
func (s *Server) BackupJobs() []backuptypes.BackupJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]backuptypes.BackupJob, 0, len(s.backup.jobs))
	for _, j := range s.backup.jobs {
		job := j.job
		job.BackupOptions = maps.Clone(job.BackupOptions)
		out = append(out, job)
	}
	return out
}

// RecoveryPoints returns the recovery points that exist now, oldest first.
func (s *Server) RecoveryPoints() []RecoveryPoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RecoveryPoint, 0, len(s.backup.points))
	for _, p := range s.backup.points {
		out = append(out, RecoveryPoint{p.rp, maps.Clone(p.tags)})
	}
	return out
}

// RestoreJobs returns every restore job started, oldest first.
func (s *Server) RestoreJobs() []RestoreJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RestoreJob, 0, len(s.backup.restores))
	for _, r := range s.backup.restores {
		out = append(out, RestoreJob{r.job, maps.Clone(r.metadata)})
	}
	return out
}

func (b *backupState) point(arn string) *recoveryPoint {
	for _, p := range b.points {
		if *p.rp.RecoveryPointArn == arn {
			return p
		}
	}
	return nil
}

func (b *backupState) removePoint(arn string) {
	for i, p := range b.points {
		if *p.rp.RecoveryPointArn == arn {
			b.points = append(b.points[:i], b.points[i+1:]...)
			return
		}
	}
}

func vaultARN(region, name string) string {
	return fmt.Sprintf("arn:aws:backup:%s:%s:backup-vault:%s", region, AccountID, name)
}

// arnParts splits arn:partition:service:region:account:resource.
func arnParts(arn string) (service, region, resource string, ok bool) {
	p := strings.SplitN(arn, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[2] == "" || p[5] == "" {
		return "", "", "", false
	}
	return p[2], p[3], p[5], true
}

// resourceType is AWS Backup's ResourceType for a protected resource ARN.
func resourceType(arn string) string {
	service, _, resource, _ := arnParts(arn)
	switch {
	case service == "elasticfilesystem":
		return "EFS"
	case service == "ec2" && strings.HasPrefix(resource, "volume/"):
		return "EBS"
	case service == "ec2":
		return "EC2"
	case service == "rds":
		return "RDS"
	case service == "s3":
		return "S3"
	case service == "dynamodb":
		return "DynamoDB"
	}
	return service
}
