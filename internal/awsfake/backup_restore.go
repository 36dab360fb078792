package awsfake

import (
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
)

// startRestoreJob: the recovery point must exist and be COMPLETED or
// PARTIAL; the same IdempotencyToken for the same point returns the job it
// started before.
func (s *Server) startRestoreJob(region string, in *backup.StartRestoreJobInput) (any, *apiError) {
	arn := aws.ToString(in.RecoveryPointArn)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.backup
	token := aws.ToString(in.IdempotencyToken)
	if r, ok := b.restoreTokens[token+"\x00"+arn]; ok && token != "" {
		return &backup.StartRestoreJobOutput{RestoreJobId: r.job.RestoreJobId}, nil
	}
	p := b.point(arn)
	if p == nil {
		return nil, backupNotFound("Recovery point %s not found", arn)
	}
	if p.rp.Status != backuptypes.RecoveryPointStatusCompleted && p.rp.Status != backuptypes.RecoveryPointStatusPartial {
		return nil, backupError(http.StatusBadRequest, "InvalidRequestException",
			fmt.Sprintf("Recovery point %s is %s and cannot be restored", arn, p.rp.Status))
	}
	typ := p.rp.ResourceType
	if in.ResourceType != nil {
		typ = in.ResourceType
	}
	r := &restoreJob{
		job: backuptypes.RestoreJobsListMember{
			AccountId:                 aws.String(AccountID),
			BackupVaultArn:            p.rp.BackupVaultArn,
			CreationDate:              aws.Time(time.Now().UTC()),
			IamRoleArn:                in.IamRoleArn,
			PercentDone:               aws.String("0.0"),
			RecoveryPointArn:          aws.String(arn),
			RecoveryPointCreationDate: p.rp.CreationDate,
			ResourceType:              typ,
			RestoreJobId:              aws.String(newUUID()),
			SourceResourceArn:         p.rp.ResourceArn,
			Status:                    backuptypes.RestoreJobStatusPending,
		},
		metadata: maps.Clone(in.Metadata),
	}
	b.restores = append(b.restores, r)
	if token != "" {
		b.restoreTokens[token+"\x00"+arn] = r
	}
	return &backup.StartRestoreJobOutput{RestoreJobId: r.job.RestoreJobId}, nil
}

// describeRestoreJob polls the job once (see Server.JobPolls).
func (s *Server) describeRestoreJob(id string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.backup.restores {
		if *r.job.RestoreJobId != id {
			continue
		}
		s.pollRestoreJobLocked(r)
		j := r.job
		return &backup.DescribeRestoreJobOutput{
			AccountId:                 j.AccountId,
			BackupSizeInBytes:         j.BackupSizeInBytes,
			BackupVaultArn:            j.BackupVaultArn,
			CompletionDate:            j.CompletionDate,
			CreatedResourceArn:        j.CreatedResourceArn,
			CreationDate:              j.CreationDate,
			IamRoleArn:                j.IamRoleArn,
			PercentDone:               j.PercentDone,
			RecoveryPointArn:          j.RecoveryPointArn,
			RecoveryPointCreationDate: j.RecoveryPointCreationDate,
			ResourceType:              j.ResourceType,
			RestoreJobId:              j.RestoreJobId,
			SourceResourceArn:         j.SourceResourceArn,
			Status:                    j.Status,
			StatusMessage:             j.StatusMessage,
		}, nil
	}
	return nil, backupNotFound("Restore job %s not found", id)
}

// pollRestoreJobLocked moves r on by one DescribeRestoreJob. s.mu must be
// held.
func (s *Server) pollRestoreJobLocked(r *restoreJob) {
	switch r.job.Status {
	case backuptypes.RestoreJobStatusPending, backuptypes.RestoreJobStatusRunning:
	default:
		return
	}
	o := s.outcomeLocked(restoreOutcome, *r.job.RecoveryPointArn)
	pct, done := progress(r.polls, s.JobPolls, o)
	first := r.polls == 0
	r.polls++
	r.job.PercentDone = aws.String(fmt.Sprintf("%d.0", pct))
	switch {
	case !done && first:
		return
	case !done:
		r.job.Status = backuptypes.RestoreJobStatusRunning
		return
	case o.state == "":
		r.job.Status = backuptypes.RestoreJobStatusCompleted
		r.job.CreatedResourceArn = aws.String(restoredARN(r))
		r.job.BackupSizeInBytes = aws.Int64(backupSizeBytes)
	default:
		r.job.Status = backuptypes.RestoreJobStatus(o.state)
		r.job.StatusMessage = aws.String(o.message)
	}
	r.job.CompletionDate = aws.Time(time.Now().UTC())
}

// restoredARN is the resource a finished restore created: for EFS the file
// system named in the metadata when newFileSystem is "false", else a new
// one; for EBS a new volume.
func restoredARN(r *restoreJob) string {
	service, region, _, _ := arnParts(aws.ToString(r.job.SourceResourceArn))
	switch aws.ToString(r.job.ResourceType) {
	case "EFS":
		fs := r.metadata["file-system-id"]
		if r.metadata["newFileSystem"] != "false" || fs == "" {
			fs = "fs-" + newID(17)
		}
		return fmt.Sprintf("arn:aws:elasticfilesystem:%s:%s:file-system/%s", region, AccountID, fs)
	case "EBS":
		return fmt.Sprintf("arn:aws:ec2:%s:%s:volume/vol-%s", region, AccountID, newID(17))
	}
	return fmt.Sprintf("arn:aws:%s:%s:%s:restored/%s", service, region, AccountID, newUUID())
}
