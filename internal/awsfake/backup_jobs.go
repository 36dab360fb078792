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

// backupSizeBytes is the size the fake reports for every finished backup.
const backupSizeBytes = 1 << 20

// startBackupJob: the vault must exist; the same IdempotencyToken for the
// same resource returns the job it started before. The recovery point
// exists (CREATING) from the start and carries RecoveryPointTags.
func (s *Server) startBackupJob(region string, in *backup.StartBackupJobInput) (any, *apiError) {
	vault, res := aws.ToString(in.BackupVaultName), aws.ToString(in.ResourceArn)
	if _, _, _, ok := arnParts(res); !ok {
		return nil, backupError(http.StatusBadRequest, "InvalidParameterValueException",
			fmt.Sprintf("Invalid ARN: %s", res))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.backup
	token := aws.ToString(in.IdempotencyToken)
	if j, ok := b.jobTokens[token+"\x00"+res]; ok && token != "" {
		return startBackupJobOutput(j), nil
	}
	if !b.vaults[vault] {
		return nil, backupNotFound("Backup vault %s does not exist", vault)
	}
	now := time.Now().UTC()
	pointARN := fmt.Sprintf("arn:aws:backup:%s:%s:recovery-point:%s", region, AccountID, newUUID())
	j := &backupJob{
		job: backuptypes.BackupJob{
			AccountId:              aws.String(AccountID),
			BackupJobId:            aws.String(newUUID()),
			BackupOptions:          maps.Clone(in.BackupOptions),
			BackupVaultArn:         aws.String(vaultARN(region, vault)),
			BackupVaultName:        aws.String(vault),
			CreationDate:           aws.Time(now),
			IamRoleArn:             in.IamRoleArn,
			PercentDone:            aws.String("0.0"),
			RecoveryPointArn:       aws.String(pointARN),
			RecoveryPointLifecycle: in.Lifecycle,
			ResourceArn:            aws.String(res),
			ResourceType:           aws.String(resourceType(res)),
			State:                  backuptypes.BackupJobStateCreated,
		},
		tags: maps.Clone(in.RecoveryPointTags),
	}
	b.jobs = append(b.jobs, j)
	if token != "" {
		b.jobTokens[token+"\x00"+res] = j
	}
	b.points = append(b.points, &recoveryPoint{
		rp: backuptypes.RecoveryPointByBackupVault{
			BackupVaultArn:   j.job.BackupVaultArn,
			BackupVaultName:  j.job.BackupVaultName,
			CreationDate:     aws.Time(now),
			IamRoleArn:       in.IamRoleArn,
			Lifecycle:        in.Lifecycle,
			RecoveryPointArn: aws.String(pointARN),
			ResourceArn:      aws.String(res),
			ResourceType:     j.job.ResourceType,
			Status:           backuptypes.RecoveryPointStatusCreating,
		},
		tags: maps.Clone(in.RecoveryPointTags),
	})
	return startBackupJobOutput(j), nil
}

func startBackupJobOutput(j *backupJob) *backup.StartBackupJobOutput {
	return &backup.StartBackupJobOutput{
		BackupJobId:      j.job.BackupJobId,
		CreationDate:     j.job.CreationDate,
		RecoveryPointArn: j.job.RecoveryPointArn,
	}
}

// describeBackupJob polls the job once (see Server.JobPolls).
func (s *Server) describeBackupJob(id string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.backup.jobs {
		if *j.job.BackupJobId != id {
			continue
		}
		s.pollBackupJobLocked(j)
		job := j.job
		return &backup.DescribeBackupJobOutput{
			AccountId:              job.AccountId,
			BackupJobId:            job.BackupJobId,
			BackupOptions:          job.BackupOptions,
			BackupSizeInBytes:      job.BackupSizeInBytes,
			BackupVaultArn:         job.BackupVaultArn,
			BackupVaultName:        job.BackupVaultName,
			CompletionDate:         job.CompletionDate,
			CreationDate:           job.CreationDate,
			IamRoleArn:             job.IamRoleArn,
			PercentDone:            job.PercentDone,
			RecoveryPointArn:       job.RecoveryPointArn,
			RecoveryPointLifecycle: job.RecoveryPointLifecycle,
			ResourceArn:            job.ResourceArn,
			ResourceType:           job.ResourceType,
			State:                  job.State,
			StatusMessage:          job.StatusMessage,
		}, nil
	}
	return nil, backupNotFound("Backup job %s not found", id)
}

// pollBackupJobLocked moves j on by one DescribeBackupJob and settles its
// recovery point when it finishes. s.mu must be held.
func (s *Server) pollBackupJobLocked(j *backupJob) {
	switch j.job.State {
	case backuptypes.BackupJobStateCreated, backuptypes.BackupJobStateRunning:
	default:
		return
	}
	o := s.outcomeLocked(backupOutcome, *j.job.ResourceArn)
	pct, done := progress(j.polls, s.JobPolls, o)
	first := j.polls == 0
	j.polls++
	j.job.PercentDone = aws.String(fmt.Sprintf("%d.0", pct))
	switch {
	case !done && first:
		return
	case !done:
		j.job.State = backuptypes.BackupJobStateRunning
		return
	case o.state == "":
		j.job.State = backuptypes.BackupJobStateCompleted
	default:
		j.job.State = backuptypes.BackupJobState(o.state)
		j.job.StatusMessage = aws.String(o.message)
	}
	now := time.Now().UTC()
	j.job.CompletionDate = aws.Time(now)
	arn := *j.job.RecoveryPointArn
	p := s.backup.point(arn)
	switch j.job.State {
	case backuptypes.BackupJobStateCompleted, backuptypes.BackupJobStatePartial:
		j.job.BackupSizeInBytes = aws.Int64(backupSizeBytes)
		if p != nil {
			p.rp.Status = backuptypes.RecoveryPointStatus(j.job.State)
			p.rp.StatusMessage = j.job.StatusMessage
			p.rp.CompletionDate = aws.Time(now)
			p.rp.BackupSizeInBytes = aws.Int64(backupSizeBytes)
		}
	default:
		s.backup.removePoint(arn)
	}
}
