package awsfake

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// recordingTB records the failures the fake reports instead of failing.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recordingTB) Fatalf(format string, args ...any) { r.Errorf(format, args...) }

func (r *recordingTB) failures() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errs, "\n")
}

func TestCallsOutsideTheModelFailTheTest(t *testing.T) {
	tests := []struct {
		name string
		call func(s *Server) error
		want string
	}{
		{"EC2", func(s *Server) error {
			_, err := s.EC2(region).DescribeImages(testCtx(t), &ec2.DescribeImagesInput{})
			return err
		}, "ec2 DescribeImages"},
		{"Backup", func(s *Server) error {
			_, err := s.Backup(region).ListBackupJobs(testCtx(t), &backup.ListBackupJobsInput{})
			return err
		}, "backup GET /backup-jobs"},
		{"CloudWatch", func(s *Server) error {
			_, err := s.CloudWatch(region).ListDashboards(testCtx(t), &cloudwatch.ListDashboardsInput{})
			return err
		}, "cloudwatch ListDashboards"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			s := New(rec)
			wantCode(t, tc.call(s), "OutsideModel")
			if got := rec.failures(); !strings.Contains(got, tc.want+" is outside the fake's model") {
				t.Errorf("test failures = %q, want one naming %q", got, tc.want)
			}
		})
	}
}

func TestOutcomeKnobsRefuseHappyStates(t *testing.T) {
	rec := &recordingTB{TB: t}
	s := New(rec)
	s.FailBackupJob(efsARN, backuptypes.BackupJobStateCompleted, "")
	s.FailRestoreJob(efsARN, backuptypes.RestoreJobStatusCompleted, "")
	if got := rec.failures(); !strings.Contains(got, "FailBackupJob") || !strings.Contains(got, "FailRestoreJob") {
		t.Errorf("test failures = %q, want both knobs to refuse COMPLETED", got)
	}
}

func TestCredentialScope(t *testing.T) {
	tests := []struct {
		auth, region, service string
	}{
		{"AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-north-1/ec2/aws4_request, SignedHeaders=host, Signature=abc", "eu-north-1", "ec2"},
		{"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/monitoring/aws4_request,SignedHeaders=host", "us-west-2", "monitoring"},
		{"", defaultRegion, ""},
		{"Bearer token", defaultRegion, ""},
	}
	for _, tc := range tests {
		r, svc := credentialScope(tc.auth)
		if r != tc.region || svc != tc.service {
			t.Errorf("credentialScope(%q) = %q, %q; want %q, %q", tc.auth, r, svc, tc.region, tc.service)
		}
	}
}
