package awsfake

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

const (
	region      = "eu-west-1"
	otherRegion = "eu-central-1"
	volID       = "vol-0123456789abcdef0"
)

// testCtx is a context that ends with the test.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// errorCode returns the API error code of err, failing the test when err
// is not a smithy.APIError.
func errorCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not a smithy.APIError", err, err)
	}
	return ae.ErrorCode()
}

// wantCode fails the test unless err is an API error with code want.
func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", want)
	}
	if got := errorCode(t, err); got != want {
		t.Fatalf("got error code %q (%v), want %q", got, err, want)
	}
}

// fastWaiter polls every millisecond instead of every 15 s.
func fastWaiter(o *ec2.SnapshotCompletedWaiterOptions) {
	o.MinDelay = time.Millisecond
	o.MaxDelay = 2 * time.Millisecond
}

// createSnapshot creates a snapshot of vol through the SDK and returns its ID.
func createSnapshot(t *testing.T, c *ec2.Client, vol, desc string, tags map[string]string) string {
	t.Helper()
	in := &ec2.CreateSnapshotInput{VolumeId: aws.String(vol), Description: aws.String(desc)}
	if len(tags) > 0 {
		spec := ec2types.TagSpecification{ResourceType: ec2types.ResourceTypeSnapshot}
		for k, v := range tags {
			spec.Tags = append(spec.Tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		in.TagSpecifications = []ec2types.TagSpecification{spec}
	}
	out, err := c.CreateSnapshot(testCtx(t), in)
	if err != nil {
		t.Fatalf("CreateSnapshot(%s): %v", vol, err)
	}
	return aws.ToString(out.SnapshotId)
}

// waitSnapshot waits for snapshot id with the SDK's waiter.
func waitSnapshot(t *testing.T, c *ec2.Client, id string, maxWait time.Duration) error {
	t.Helper()
	w := ec2.NewSnapshotCompletedWaiter(c, fastWaiter)
	return w.Wait(testCtx(t), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}}, maxWait)
}
