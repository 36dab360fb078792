package awsfake

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/google/go-cmp/cmp"
)

// completedPoint backs up efsARN to completion and returns the point's ARN.
func completedPoint(t *testing.T, s *Server, c *backup.Client) string {
	t.Helper()
	job := startJob(t, c, efsARN, "", nil)
	_, last := describeJob(t, c, aws.ToString(job.BackupJobId), s.JobPolls+1)
	if last.State != backuptypes.BackupJobStateCompleted {
		t.Fatalf("backup job %s, want COMPLETED", last.State)
	}
	return aws.ToString(job.RecoveryPointArn)
}

func TestRestoreMetadataForEFS(t *testing.T) {
	s := New(t)
	c := s.Backup(region)
	point := completedPoint(t, s, c)
	out, err := c.GetRecoveryPointRestoreMetadata(testCtx(t), &backup.GetRecoveryPointRestoreMetadataInput{
		BackupVaultName: aws.String("Default"), RecoveryPointArn: aws.String(point),
	})
	if err != nil {
		t.Fatalf("GetRecoveryPointRestoreMetadata: %v", err)
	}
	md := out.RestoreMetadata
	if md["file-system-id"] != "fs-0123456789abcdef0" || md["newFileSystem"] != "true" || md["PerformanceMode"] == "" {
		t.Errorf("RestoreMetadata = %v, want file-system-id fs-0123456789abcdef0, newFileSystem true, a PerformanceMode", md)
	}
	if aws.ToString(out.ResourceType) != "EFS" || aws.ToString(out.RecoveryPointArn) != point {
		t.Errorf("ResourceType %s RecoveryPointArn %s, want EFS %s", aws.ToString(out.ResourceType), aws.ToString(out.RecoveryPointArn), point)
	}
	_, err = c.GetRecoveryPointRestoreMetadata(testCtx(t), &backup.GetRecoveryPointRestoreMetadataInput{
		BackupVaultName: aws.String("Default"), RecoveryPointArn: aws.String(point + "-gone"),
	})
	wantCode(t, err, "ResourceNotFoundException")
}

func TestRestoreJob(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(s *Server, point string)
		metadata    map[string]string
		want        []string
		wantMsg     string
		wantCreated string // prefix of CreatedResourceArn; "" = none
	}{
		{"into the same file system", nil,
			map[string]string{"file-system-id": "fs-0123456789abcdef0", "newFileSystem": "false"},
			[]string{"PENDING", "RUNNING", "COMPLETED"}, "",
			"arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-0123456789abcdef0"},
		{"into a new file system", nil,
			map[string]string{"newFileSystem": "true", "CreationToken": "t"},
			[]string{"PENDING", "RUNNING", "COMPLETED"}, "",
			"arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-"},
		{"failed", func(s *Server, p string) { s.FailRestoreJob(p, backuptypes.RestoreJobStatusFailed, "no space") },
			map[string]string{"newFileSystem": "true"},
			[]string{"PENDING", "RUNNING", "FAILED"}, "no space", ""},
		{"never completes", func(s *Server, p string) { s.NeverComplete(p) },
			map[string]string{"newFileSystem": "true"},
			[]string{"PENDING", "RUNNING", "RUNNING", "RUNNING"}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t)
			c := s.Backup(region)
			point := completedPoint(t, s, c)
			if tc.setup != nil {
				tc.setup(s, point)
			}
			in := &backup.StartRestoreJobInput{
				RecoveryPointArn: aws.String(point),
				Metadata:         tc.metadata,
				IamRoleArn:       aws.String(roleARN),
				IdempotencyToken: aws.String("restore-1"),
			}
			start, err := c.StartRestoreJob(testCtx(t), in)
			if err != nil {
				t.Fatalf("StartRestoreJob: %v", err)
			}
			again, err := c.StartRestoreJob(testCtx(t), in)
			if err != nil || aws.ToString(again.RestoreJobId) != aws.ToString(start.RestoreJobId) {
				t.Fatalf("idempotent StartRestoreJob = %v, %v; want job %s again", aws.ToString(again.RestoreJobId), err, aws.ToString(start.RestoreJobId))
			}

			var got []string
			var last *backup.DescribeRestoreJobOutput
			for range tc.want {
				last, err = c.DescribeRestoreJob(testCtx(t), &backup.DescribeRestoreJobInput{RestoreJobId: start.RestoreJobId})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(last.Status))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("statuses = %v, want %v", got, tc.want)
			}
			if msg := aws.ToString(last.StatusMessage); msg != tc.wantMsg {
				t.Errorf("StatusMessage = %q, want %q", msg, tc.wantMsg)
			}
			created := aws.ToString(last.CreatedResourceArn)
			if (tc.wantCreated == "") != (created == "") || !strings.HasPrefix(created, tc.wantCreated) {
				t.Errorf("CreatedResourceArn = %q, want prefix %q", created, tc.wantCreated)
			}
			if aws.ToString(last.SourceResourceArn) != efsARN || aws.ToString(last.RecoveryPointArn) != point {
				t.Errorf("source %s point %s, want %s %s", aws.ToString(last.SourceResourceArn), aws.ToString(last.RecoveryPointArn), efsARN, point)
			}
			jobs := s.RestoreJobs()
			if len(jobs) != 1 {
				t.Fatalf("RestoreJobs has %d jobs, want 1", len(jobs))
			}
			if diff := cmp.Diff(tc.metadata, jobs[0].Metadata); diff != "" {
				t.Errorf("restore Metadata (-sent +held):\n%s", diff)
			}
		})
	}
}

func TestStartRestoreJobNeedsAFinishedPoint(t *testing.T) {
	s := New(t)
	c := s.Backup(region)
	running := startJob(t, c, efsARN, "", nil)
	_, err := c.StartRestoreJob(testCtx(t), &backup.StartRestoreJobInput{
		RecoveryPointArn: running.RecoveryPointArn, Metadata: map[string]string{"newFileSystem": "true"},
	})
	wantCode(t, err, "InvalidRequestException")
	_, err = c.StartRestoreJob(testCtx(t), &backup.StartRestoreJobInput{
		RecoveryPointArn: aws.String("arn:aws:backup:eu-west-1:123456789012:recovery-point:gone"), Metadata: map[string]string{},
	})
	wantCode(t, err, "ResourceNotFoundException")
}
