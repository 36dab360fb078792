// Package testenv connects tests to the real test servers that
// scripts/testenv.sh starts (make testenv): MinIO with a KMS key, and
// later kube-apiserver + etcd. Without a server a test skips visibly;
// with ARCHIVER_TEST_DISALLOW_SKIP=1 (CI) the skip becomes a failure.
//
// Test-only: nothing outside _test.go files may import it.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/xroad-archiver/archiver/internal/store"
)

// Skip skips t, or fails it when skips are disallowed.
func Skip(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("ARCHIVER_TEST_DISALLOW_SKIP") == "1" {
		t.Fatalf("test server missing and skips are disallowed: %s", why)
	}
	t.Skip(why)
}

// S3Env is how to reach the test MinIO.
type S3Env struct {
	Endpoint, AccessKey, SecretKey string
	KMSKey                         string // a key MinIO's KMS knows
	MinIOBin                       string
}

// S3 returns the test MinIO, or skips.
func S3(t testing.TB) S3Env {
	t.Helper()
	e := S3Env{
		Endpoint:  os.Getenv("ARCHIVER_TEST_S3_ENDPOINT"),
		AccessKey: os.Getenv("ARCHIVER_TEST_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("ARCHIVER_TEST_S3_SECRET_KEY"),
		KMSKey:    os.Getenv("ARCHIVER_TEST_KMS_KEY"),
		MinIOBin:  os.Getenv("ARCHIVER_TEST_MINIO_BIN"),
	}
	if e.Endpoint == "" || e.AccessKey == "" || e.KMSKey == "" {
		Skip(t, "no test MinIO: run `make testenv` and source .testenv/env (make test does both)")
	}
	return e
}

// Credentials are the static test credentials.
func (e S3Env) Credentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, "")
}

// ClientOptions connect store.NewS3Client to the test MinIO.
func (e S3Env) ClientOptions() store.ClientOptions {
	return store.ClientOptions{EndpointURL: e.Endpoint, Region: "us-east-1", Credentials: e.Credentials()}
}

// Client returns an S3 client for the test MinIO.
func (e S3Env) Client(t testing.TB) *s3.Client {
	t.Helper()
	c, err := store.NewS3Client(context.Background(), e.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Environ is the environment a child archiver process needs to reach the
// test MinIO through the SDK's standard variables.
func (e S3Env) Environ() []string {
	return []string{"AWS_ENDPOINT_URL_S3=" + e.Endpoint, "AWS_ACCESS_KEY_ID=" + e.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + e.SecretKey, "AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true"}
}

// Bucket creates a fresh bucket named after the test (with Object Lock
// enabled when lock is true) and returns its name.
func (e S3Env) Bucket(t testing.TB, lock bool) string {
	t.Helper()
	var rb [4]byte
	rand.Read(rb[:])
	name := strings.ToLower(t.Name())
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name)
	if len(name) > 40 {
		name = name[:40]
	}
	name = strings.Trim(name, "-") + "-" + hex.EncodeToString(rb[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in := &s3.CreateBucketInput{Bucket: &name}
	if lock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := e.Client(t).CreateBucket(ctx, in); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// Uploads lists the multipart uploads in progress below prefix. (MinIO
// filters uploads only by exact key, so this lists the bucket and filters.)
func (e S3Env) Uploads(t testing.TB, bucket, prefix string) []types.MultipartUpload {
	t.Helper()
	out, err := e.Client(t).ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		t.Fatalf("list uploads: %v", err)
	}
	var ups []types.MultipartUpload
	for _, u := range out.Uploads {
		if strings.HasPrefix(aws.ToString(u.Key), prefix) {
			ups = append(ups, u)
		}
	}
	return ups
}
