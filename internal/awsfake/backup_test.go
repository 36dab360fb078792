package awsfake

import (
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/google/go-cmp/cmp"
)

const (
	efsARN  = "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-0123456789abcdef0"
	efsARN2 = "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-00000000000000002"
	roleARN = "arn:aws:iam::123456789012:role/backup"
)

func startJob(t *testing.T, c *backup.Client, resource, token string, tags map[string]string) *backup.StartBackupJobOutput {
	t.Helper()
	in := &backup.StartBackupJobInput{
		BackupVaultName:   aws.String("Default"),
		ResourceArn:       aws.String(resource),
		IamRoleArn:        aws.String(roleARN),
		RecoveryPointTags: tags,
		Lifecycle:         &backuptypes.Lifecycle{DeleteAfterDays: aws.Int64(35)},
	}
	if token != "" {
		in.IdempotencyToken = aws.String(token)
	}
	out, err := c.StartBackupJob(testCtx(t), in)
	if err != nil {
		t.Fatalf("StartBackupJob(%s): %v", resource, err)
	}
	return out
}

// describeJob describes a job n times and returns the states seen.
func describeJob(t *testing.T, c *backup.Client, id string, n int) (states []string, last *backup.DescribeBackupJobOutput) {
	t.Helper()
	for range n {
		out, err := c.DescribeBackupJob(testCtx(t), &backup.DescribeBackupJobInput{BackupJobId: aws.String(id)})
		if err != nil {
			t.Fatalf("DescribeBackupJob: %v", err)
		}
		states, last = append(states, string(out.State)), out
	}
	return states, last
}

func TestStartBackupJobIdempotencyToken(t *testing.T) {
	s := New(t)
	c := s.Backup(region)
	first := startJob(t, c, efsARN, "nightly-1", nil)
	tests := []struct {
		name     string
		resource string
		token    string
		same     bool
	}{
		{"same token and resource returns the same job", efsARN, "nightly-1", true},
		{"another token starts a new job", efsARN, "nightly-2", false},
		{"same token for another resource starts a new job", efsARN2, "nightly-1", false},
		{"no token starts a new job", efsARN, "", false},
	}
	jobs := 1
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := startJob(t, c, tc.resource, tc.token, nil)
			same := aws.ToString(out.BackupJobId) == aws.ToString(first.BackupJobId)
			if same != tc.same {
				t.Errorf("job %s vs first %s: same = %v, want %v", aws.ToString(out.BackupJobId), aws.ToString(first.BackupJobId), same, tc.same)
			}
			if same && (aws.ToString(out.RecoveryPointArn) != aws.ToString(first.RecoveryPointArn) || !out.CreationDate.Equal(*first.CreationDate)) {
				t.Errorf("idempotent retry returned %+v, want the first job's %+v", out, first)
			}
			if !same {
				jobs++
			}
			if got := len(s.BackupJobs()); got != jobs {
				t.Errorf("BackupJobs has %d jobs, want %d", got, jobs)
			}
		})
	}
}

func TestStartBackupJobVault(t *testing.T) {
	s := New(t)
	c := s.Backup(region)
	in := &backup.StartBackupJobInput{BackupVaultName: aws.String("archive"), ResourceArn: aws.String(efsARN), IamRoleArn: aws.String(roleARN)}
	_, err := c.StartBackupJob(testCtx(t), in)
	wantCode(t, err, "ResourceNotFoundException")
	var nf *backuptypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("error %T is not the modelled *types.ResourceNotFoundException", err)
	}

	s.AddVault("archive")
	out, err := c.StartBackupJob(testCtx(t), in)
	if err != nil {
		t.Fatalf("StartBackupJob after AddVault: %v", err)
	}
	d, err := c.DescribeBackupJob(testCtx(t), &backup.DescribeBackupJobInput{BackupJobId: out.BackupJobId})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d.BackupVaultName) != "archive" || aws.ToString(d.ResourceArn) != efsARN ||
		aws.ToString(d.RecoveryPointArn) != aws.ToString(out.RecoveryPointArn) || aws.ToString(d.ResourceType) != "EFS" {
		t.Errorf("DescribeBackupJob = vault %s resource %s point %s type %s", aws.ToString(d.BackupVaultName),
			aws.ToString(d.ResourceArn), aws.ToString(d.RecoveryPointArn), aws.ToString(d.ResourceType))
	}
}

func TestBackupJobStates(t *testing.T) {
	tests := []struct {
		name       string
		polls      int
		setup      func(s *Server)
		want       []string
		wantMsg    string
		wantPoint  backuptypes.RecoveryPointStatus // "" = no recovery point left
		wantFinish bool
	}{
		{"default", 2, nil, []string{"CREATED", "RUNNING", "COMPLETED", "COMPLETED"}, "", "COMPLETED", true},
		{"zero polls", 0, nil, []string{"COMPLETED"}, "", "COMPLETED", true},
		{"four polls", 4, nil, []string{"CREATED", "RUNNING", "RUNNING", "RUNNING", "COMPLETED"}, "", "COMPLETED", true},
		{"failed", 2, func(s *Server) { s.FailBackupJob(efsARN, backuptypes.BackupJobStateFailed, "access denied") },
			[]string{"CREATED", "RUNNING", "FAILED", "FAILED"}, "access denied", "", true},
		{"partial", 1, func(s *Server) { s.FailBackupJob(efsARN, backuptypes.BackupJobStatePartial, "some files skipped") },
			[]string{"CREATED", "PARTIAL"}, "some files skipped", "PARTIAL", true},
		{"aborted", 1, func(s *Server) { s.FailBackupJob(efsARN, backuptypes.BackupJobStateAborted, "stopped") },
			[]string{"CREATED", "ABORTED"}, "stopped", "", true},
		{"expired", 1, func(s *Server) { s.FailBackupJob(efsARN, backuptypes.BackupJobStateExpired, "window closed") },
			[]string{"CREATED", "EXPIRED"}, "window closed", "", true},
		{"never completes", 2, func(s *Server) { s.NeverComplete(efsARN) },
			[]string{"CREATED", "RUNNING", "RUNNING", "RUNNING", "RUNNING"}, "", "CREATING", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t)
			s.JobPolls = tc.polls
			if tc.setup != nil {
				tc.setup(s)
			}
			c := s.Backup(region)
			job := startJob(t, c, efsARN, "", nil)
			got, last := describeJob(t, c, aws.ToString(job.BackupJobId), len(tc.want))
			if !slices.Equal(got, tc.want) {
				t.Errorf("states = %v, want %v", got, tc.want)
			}
			if msg := aws.ToString(last.StatusMessage); msg != tc.wantMsg {
				t.Errorf("StatusMessage = %q, want %q", msg, tc.wantMsg)
			}
			if finished := last.CompletionDate != nil; finished != tc.wantFinish {
				t.Errorf("CompletionDate set = %v, want %v", finished, tc.wantFinish)
			}
			if lc := last.RecoveryPointLifecycle; lc == nil || aws.ToInt64(lc.DeleteAfterDays) != 35 {
				t.Errorf("RecoveryPointLifecycle = %+v, want DeleteAfterDays 35 as started", lc)
			}
			if tc.wantFinish && aws.ToString(last.PercentDone) != "100.0" {
				t.Errorf("PercentDone = %s, want 100.0", aws.ToString(last.PercentDone))
			}
			var status backuptypes.RecoveryPointStatus
			if rps := s.RecoveryPoints(); len(rps) == 1 {
				status = rps[0].Status
			} else if len(rps) > 1 {
				t.Fatalf("%d recovery points, want at most 1", len(rps))
			}
			if status != tc.wantPoint {
				t.Errorf("recovery point status = %q, want %q", status, tc.wantPoint)
			}
			if jobs := s.BackupJobs(); string(jobs[0].State) != tc.want[len(tc.want)-1] {
				t.Errorf("BackupJobs state = %s, want %s", jobs[0].State, tc.want[len(tc.want)-1])
			}
		})
	}
}

func TestDescribeUnknownJobs(t *testing.T) {
	s := New(t)
	c := s.Backup(region)
	_, err := c.DescribeBackupJob(testCtx(t), &backup.DescribeBackupJobInput{BackupJobId: aws.String("no-such-job")})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.DescribeRestoreJob(testCtx(t), &backup.DescribeRestoreJobInput{RestoreJobId: aws.String("no-such-job")})
	wantCode(t, err, "ResourceNotFoundException")
}

func TestRecoveryPointsAndTags(t *testing.T) {
	s := New(t)
	s.JobPolls = 0
	c := s.Backup(region)
	var want []string // newest first
	for i, token := range []string{"a", "b", "c"} {
		out := startJob(t, c, efsARN, token, map[string]string{"seq": string(rune('1' + i)), "archiver": "xroad"})
		describeJob(t, c, aws.ToString(out.BackupJobId), 1)
		want = append([]string{aws.ToString(out.RecoveryPointArn)}, want...)
	}
	other := startJob(t, c, efsARN2, "", nil)
	describeJob(t, c, aws.ToString(other.BackupJobId), 1)

	p := backup.NewListRecoveryPointsByResourcePaginator(c, &backup.ListRecoveryPointsByResourceInput{
		ResourceArn: aws.String(efsARN), MaxResults: aws.Int32(2),
	})
	var got []string
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, rp := range out.RecoveryPoints {
			if rp.Status != backuptypes.RecoveryPointStatusCompleted || aws.ToString(rp.BackupVaultName) != "Default" || rp.CreationDate == nil {
				t.Errorf("recovery point %+v, want COMPLETED in Default with a CreationDate", rp)
			}
			got = append(got, aws.ToString(rp.RecoveryPointArn))
		}
	}
	if pages != 2 || !slices.Equal(got, want) {
		t.Errorf("listed %v in %d pages, want %v in 2", got, pages, want)
	}

	tags, err := c.ListTags(testCtx(t), &backup.ListTagsInput{ResourceArn: aws.String(want[0])})
	if err != nil {
		t.Fatalf("ListTags: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"seq": "3", "archiver": "xroad"}, tags.Tags); diff != "" {
		t.Errorf("ListTags of newest point (-want +got):\n%s", diff)
	}
	_, err = c.ListTags(testCtx(t), &backup.ListTagsInput{ResourceArn: aws.String("arn:aws:backup:eu-west-1:123456789012:recovery-point:gone")})
	wantCode(t, err, "ResourceNotFoundException")

	none, err := c.ListRecoveryPointsByResource(testCtx(t), &backup.ListRecoveryPointsByResourceInput{ResourceArn: aws.String("arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-none")})
	if err != nil || len(none.RecoveryPoints) != 0 {
		t.Errorf("unknown resource: %d points, err %v; want none and no error", len(none.RecoveryPoints), err)
	}
}

func TestDeleteRecoveryPoint(t *testing.T) {
	s := New(t)
	s.JobPolls = 0
	c := s.Backup(region)
	done := startJob(t, c, efsARN, "", nil)
	describeJob(t, c, aws.ToString(done.BackupJobId), 1)
	running := startJob(t, c, efsARN2, "", nil)

	del := func(vault string, arn *string) error {
		_, err := c.DeleteRecoveryPoint(testCtx(t), &backup.DeleteRecoveryPointInput{BackupVaultName: aws.String(vault), RecoveryPointArn: arn})
		return err
	}
	wantCode(t, del("other-vault", done.RecoveryPointArn), "ResourceNotFoundException")
	wantCode(t, del("Default", running.RecoveryPointArn), "InvalidResourceStateException")
	if err := del("Default", done.RecoveryPointArn); err != nil {
		t.Fatalf("DeleteRecoveryPoint: %v", err)
	}
	wantCode(t, del("Default", done.RecoveryPointArn), "ResourceNotFoundException")
	if rps := s.RecoveryPoints(); len(rps) != 1 || aws.ToString(rps[0].RecoveryPointArn) != aws.ToString(running.RecoveryPointArn) {
		t.Errorf("RecoveryPoints = %+v, want only the running job's", rps)
	}
}
