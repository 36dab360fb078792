package jobs_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/xroad-archiver/archiver/internal/awsfake"
	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/jobs"
)

// TestAlarmsPlanApplyPlan: in process, through the real CloudWatch client
// to the AWS fake: a plan creates every alarm, apply creates them, and a
// second plan finds them unchanged, in the region the flag or
// metrics.region names.
func TestAlarmsPlanApplyPlan(t *testing.T) {
	fake := awsfake.New(t)
	var regions []string
	cl := jobs.Clients{AWS: func(ctx context.Context, region string) (aws.Config, error) {
		regions = append(regions, region)
		return aws.Config{Region: region, BaseEndpoint: aws.String(fake.URL()), HTTPClient: awshttp.NewBuildableClient(),
			Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}, nil
	}}
	c := &config.Config{Cluster: "c1", SecurityServer: "EE/GOV/1/ss1", Metrics: config.Metrics{Region: "eu-west-1"},
		Sync: config.Sync{Enabled: true}}
	ctx := context.Background()
	for _, step := range []struct {
		apply      bool
		region     string
		wantAction string
	}{
		{false, "", "create"},
		{true, "eu-west-1", "create"},
		{false, "", "unchanged"},
	} {
		ch, err := jobs.Alarms(ctx, c, cl, step.region, step.apply)
		if err != nil || ch == nil || len(ch.List) == 0 || ch.Applied != step.apply {
			t.Fatalf("apply %v: got %+v, %v", step.apply, ch, err)
		}
		for _, a := range ch.List {
			if a.Action != step.wantAction {
				t.Fatalf("apply %v: alarm %s is %s, want %s", step.apply, a.Alarm, a.Action, step.wantAction)
			}
		}
	}
	for _, r := range regions {
		if r != "eu-west-1" {
			t.Fatalf("regions asked for: %v, want eu-west-1 (metrics.region) each time", regions)
		}
	}
	noRegion := jobs.Clients{AWS: func(context.Context, string) (aws.Config, error) { return aws.Config{}, errors.New("no region") }}
	if ch, err := jobs.Alarms(ctx, &config.Config{}, noRegion, "", false); ch != nil || err == nil {
		t.Fatalf("without a client: got %+v, %v; want nil changes and the error", ch, err)
	}
}
