package awsfake

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// MaxAttempts is how many attempts the clients built here make per call.
const MaxAttempts = 5

// retryBackoff is the fixed delay between attempts, so retries are exercised
// without slowing the tests down.
const retryBackoff = 2 * time.Millisecond

// The clients below are built directly from Options (not
// config.LoadDefaultConfig) with awshttp.NewBuildableClient, so AWS_CA_BUNDLE
// in the environment cannot break them, and nothing is read from ~/.aws.

// EC2 returns a real EC2 client for region that talks to the fake.
func (s *Server) EC2(region string) *ec2.Client {
	return ec2.New(ec2.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  staticCredentials(),
		Retryer:      newRetryer(),
		HTTPClient:   awshttp.NewBuildableClient(),
	})
}

// Backup returns a real AWS Backup client for region that talks to the fake.
func (s *Server) Backup(region string) *backup.Client {
	return backup.New(backup.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  staticCredentials(),
		Retryer:      newRetryer(),
		HTTPClient:   awshttp.NewBuildableClient(),
	})
}

// CloudWatch returns a real CloudWatch client for region that talks to the
// fake.
func (s *Server) CloudWatch(region string) *cloudwatch.Client {
	return cloudwatch.New(cloudwatch.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  staticCredentials(),
		Retryer:      newRetryer(),
		HTTPClient:   awshttp.NewBuildableClient(),
	})
}

func staticCredentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("AKIDAWSFAKE", "awsfake-secret", "")
}

// newRetryer is the SDK's standard retryer (same retryable codes and
// statuses) with MaxAttempts attempts, a fixed short backoff and no client
// side retry quota, so a test can retry as often as it likes.
func newRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = MaxAttempts
		o.MaxBackoff = retryBackoff
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) {
			return retryBackoff, nil
		})
		o.RateLimiter = ratelimit.None
	})
}
