package awsfake

import (
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// faultCalls are one call per protocol, each on a fresh server.
var faultCalls = []struct {
	service string
	op      string
	call    func(t *testing.T, s *Server) error
}{
	{"EC2", "CreateSnapshot", func(t *testing.T, s *Server) error {
		s.AddVolume(region, volID, 8, region+"a")
		_, err := s.EC2(region).CreateSnapshot(testCtx(t), &ec2.CreateSnapshotInput{VolumeId: aws.String(volID)})
		return err
	}},
	{"Backup", "StartBackupJob", func(t *testing.T, s *Server) error {
		_, err := s.Backup(region).StartBackupJob(testCtx(t), &backup.StartBackupJobInput{
			BackupVaultName: aws.String("Default"), ResourceArn: aws.String(efsARN), IamRoleArn: aws.String(roleARN),
		})
		return err
	}},
	{"CloudWatch", "PutMetricData", func(t *testing.T, s *Server) error {
		_, err := s.CloudWatch(region).PutMetricData(testCtx(t), &cloudwatch.PutMetricDataInput{
			Namespace:  aws.String("XRoad/Archiver"),
			MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("m"), Value: aws.Float64(1)}},
		})
		return err
	}},
}

func TestInjectedFaultsAreRetried(t *testing.T) {
	faults := []struct {
		name  string
		fault Fault
		codes map[string]string // service -> code the last attempt reports
	}{
		{"throttle", Throttle, map[string]string{"EC2": "RequestLimitExceeded", "Backup": "ThrottlingException", "CloudWatch": "Throttling"}},
		{"internal error", InternalError, map[string]string{"EC2": "InternalError", "Backup": "ServiceUnavailableException", "CloudWatch": "InternalServiceError"}},
		{"custom 503", APIError(http.StatusServiceUnavailable, "Unavailable", "try later"), map[string]string{"EC2": "Unavailable", "Backup": "Unavailable", "CloudWatch": "Unavailable"}},
	}
	for _, f := range faults {
		for _, fc := range faultCalls {
			t.Run(f.name+"/"+fc.service, func(t *testing.T) {
				s := New(t)
				s.Inject(fc.op, 2, f.fault)
				if err := fc.call(t, s); err != nil {
					t.Fatalf("%s after 2 injected faults: %v", fc.op, err)
				}
				if n := s.Calls(fc.op); n != 3 {
					t.Errorf("Calls(%s) = %d, want 3 (2 faults + 1 retry that succeeds)", fc.op, n)
				}

				s = New(t)
				s.Inject(fc.op, MaxAttempts, f.fault)
				err := fc.call(t, s)
				wantCode(t, err, f.codes[fc.service])
				var maxErr *retry.MaxAttemptsError
				if !errors.As(err, &maxErr) {
					t.Errorf("error %v is not a retry.MaxAttemptsError", err)
				}
				if n := s.Calls(fc.op); n != MaxAttempts {
					t.Errorf("Calls(%s) = %d, want %d", fc.op, n, MaxAttempts)
				}
				// The injections are used up: the next call succeeds.
				if err := fc.call(t, s); err != nil {
					t.Errorf("call after the faults ran out: %v", err)
				}
			})
		}
	}
}

func TestInjectedClientErrorIsNotRetried(t *testing.T) {
	for _, fc := range faultCalls {
		t.Run(fc.service, func(t *testing.T) {
			s := New(t)
			s.Inject(fc.op, 1, APIError(http.StatusForbidden, "AccessDenied", "not allowed"))
			s.Inject("DescribeSnapshots", 1, Throttle) // another operation: untouched
			err := fc.call(t, s)
			wantCode(t, err, "AccessDenied")
			var re *awshttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
				t.Errorf("error %v, want HTTP 403", err)
			}
			if n := s.Calls(fc.op); n != 1 {
				t.Errorf("Calls(%s) = %d, want 1 (client errors are not retried)", fc.op, n)
			}
			if n := s.Calls("DescribeSnapshots"); n != 0 {
				t.Errorf("Calls(DescribeSnapshots) = %d, want 0", n)
			}
		})
	}
}
