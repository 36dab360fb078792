package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"

	"github.com/xroad-archiver/archiver/internal/store"
)

// BackupAPI is the part of the AWS Backup client this package uses;
// *backup.Client satisfies it.
type BackupAPI interface {
	StartBackupJob(context.Context, *backup.StartBackupJobInput, ...func(*backup.Options)) (*backup.StartBackupJobOutput, error)
	DescribeBackupJob(context.Context, *backup.DescribeBackupJobInput, ...func(*backup.Options)) (*backup.DescribeBackupJobOutput, error)
	ListRecoveryPointsByResource(context.Context, *backup.ListRecoveryPointsByResourceInput, ...func(*backup.Options)) (*backup.ListRecoveryPointsByResourceOutput, error)
	ListTags(context.Context, *backup.ListTagsInput, ...func(*backup.Options)) (*backup.ListTagsOutput, error)
	DeleteRecoveryPoint(context.Context, *backup.DeleteRecoveryPointInput, ...func(*backup.Options)) (*backup.DeleteRecoveryPointOutput, error)
}

var _ BackupAPI = (*backup.Client)(nil)

// EFS backs up EFS file systems with AWS Backup jobs.
type EFS struct {
	API       BackupAPI
	Region    string
	Account   string // AWS account id, for the file system ARN
	Vault     string
	IAMRole   string // role AWS Backup assumes (trusts backup.amazonaws.com)
	Cluster   string
	Lifecycle *backuptypes.Lifecycle
	Wait      Waiting
}

// FileSystemARN is the resource AWS Backup backs up (the whole file
// system; an access point's directory is inside it).
func (e *EFS) FileSystemARN(fs string) string {
	return fmt.Sprintf("arn:aws:elasticfilesystem:%s:%s:file-system/%s", e.Region, e.Account, fs)
}

// idempotencyToken is stable for a run and volume, so a rerun of the same
// run returns the same job instead of starting another.
func idempotencyToken(runID, pv string) string {
	s := sha256.Sum256([]byte(runID + "\x00" + pv))
	return "archiver-" + hex.EncodeToString(s[:12])
}

// Snapshot starts (or rejoins) the backup job of v's file system and waits
// for it: only COMPLETED is success.
func (e *EFS) Snapshot(ctx context.Context, v Volume, runID, manifestKey string) (Artifact, error) {
	a := Artifact{Kind: "recovery-point", Region: e.Region, RunID: runID}
	in := &backup.StartBackupJobInput{
		BackupVaultName: aws.String(e.Vault), ResourceArn: aws.String(e.FileSystemARN(v.FileSystemID)),
		IamRoleArn: aws.String(e.IAMRole), IdempotencyToken: aws.String(idempotencyToken(runID, v.PV)),
		Lifecycle: e.Lifecycle, RecoveryPointTags: tagsFor(v, e.Cluster, runID, manifestKey),
	}
	out, err := e.API.StartBackupJob(ctx, in)
	if err != nil {
		return a, fmt.Errorf("start backup job of %s: %w", v.FileSystemID, err)
	}
	a.ID, a.Started = aws.ToString(out.RecoveryPointArn), aws.ToTime(out.CreationDate)
	job := aws.ToString(out.BackupJobId)
	err = poll(ctx, e.Wait, "backup job "+job, func(ctx context.Context) (string, error) {
		d, err := e.API.DescribeBackupJob(ctx, &backup.DescribeBackupJobInput{BackupJobId: aws.String(job)})
		if err != nil {
			return "", fmt.Errorf("describe backup job %s: %w", job, err)
		}
		a.State, a.Message = string(d.State), aws.ToString(d.StatusMessage)
		if d.RecoveryPointArn != nil {
			a.ID = aws.ToString(d.RecoveryPointArn)
		}
		a.SizeBytes = aws.ToInt64(d.BackupSizeInBytes)
		switch d.State {
		case backuptypes.BackupJobStateCompleted:
			return "", errDone
		case backuptypes.BackupJobStateFailed, backuptypes.BackupJobStateAborted, backuptypes.BackupJobStateExpired, backuptypes.BackupJobStatePartial:
			return "", fmt.Errorf("backup job %s of %s ended %s: %w: %s", job, v.FileSystemID, d.State, ErrFailed, a.Message)
		}
		return fmt.Sprintf("%s %s%%", d.State, aws.ToString(d.PercentDone)), nil
	})
	return a, err
}

// List returns archiver's recovery points of v's file system.
func (e *EFS) List(ctx context.Context, v Volume) ([]Artifact, error) {
	var out []Artifact
	p := backup.NewListRecoveryPointsByResourcePaginator(e.API, &backup.ListRecoveryPointsByResourceInput{ResourceArn: aws.String(e.FileSystemARN(v.FileSystemID))})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list recovery points of %s: %w", v.FileSystemID, err)
		}
		for _, rp := range page.RecoveryPoints {
			tags, err := e.API.ListTags(ctx, &backup.ListTagsInput{ResourceArn: rp.RecoveryPointArn})
			if err != nil {
				return nil, fmt.Errorf("tags of %s: %w", aws.ToString(rp.RecoveryPointArn), err)
			}
			if tags.Tags[TagManagedBy] != ManagedBy || tags.Tags[TagPV] != v.PV {
				continue // not ours, or another PV's
			}
			out = append(out, Artifact{Kind: "recovery-point", ID: aws.ToString(rp.RecoveryPointArn), Region: e.Region,
				State: string(rp.Status), SizeBytes: aws.ToInt64(rp.BackupSizeBytes), Started: aws.ToTime(rp.CreationDate), RunID: tags.Tags[TagRunID]})
		}
	}
	return out, nil
}

// Prune applies the policy to archiver's completed recovery points of v.
func (e *EFS) Prune(ctx context.Context, v Volume, p Policy, dryRun bool, loc *time.Location) ([]Artifact, error) {
	all, err := e.List(ctx, v)
	if err != nil {
		return nil, err
	}
	var items []Item
	byID := map[string]Artifact{}
	for _, a := range all {
		if a.State == string(backuptypes.RecoveryPointStatusCompleted) {
			items = append(items, Item{ID: a.ID, Time: a.Started})
			byID[a.ID] = a
		}
	}
	_, drop := Apply(items, p, loc)
	var deleted []Artifact
	for _, it := range drop {
		if !dryRun {
			_, err := e.API.DeleteRecoveryPoint(ctx, &backup.DeleteRecoveryPointInput{BackupVaultName: aws.String(e.Vault), RecoveryPointArn: aws.String(it.ID)})
			if err != nil && !store.IsCode(err, "ResourceNotFoundException") {
				return deleted, fmt.Errorf("delete recovery point %s: %w", it.ID, err)
			}
		}
		deleted = append(deleted, byID[it.ID])
	}
	return deleted, nil
}
