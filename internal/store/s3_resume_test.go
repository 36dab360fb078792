package store_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/store/storetest"
	"github.com/xroad-archiver/archiver/internal/testenv"
)

// badFirstCompletion passes every call to the real MinIO, but the first
// CompleteMultipartUpload goes out with a wrong full-object checksum, so
// MinIO itself answers XAmzContentChecksumMismatch: what the crash
// campaign's first clean run met once when it resumed an upload a killed
// run had left.
type badFirstCompletion struct {
	store.S3API
	sent atomic.Int32
}

func (b *badFirstCompletion) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opt ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	if b.sent.Add(1) == 1 {
		c := *in
		c.ChecksumCRC32C = aws.String("AAAAAA==")
		in = &c
	}
	return b.S3API.CompleteMultipartUpload(ctx, in, opt...)
}

func TestS3ResumedUploadRefusedOnCompletionIsSentAfresh(t *testing.T) {
	env := testenv.S3(t)
	bucket := env.Bucket(t, false)
	ctx := context.Background()
	o := store.S3Options{Bucket: bucket, Prefix: "xroad/ss1", KMSKeyID: env.KMSKey, PartSize: testPart, MultipartThreshold: testPart, Concurrency: 1}
	killed, err := store.NewS3(env.Client(t), o)
	if err != nil {
		t.Fatal(err)
	}
	data := storetest.Random(3*testPart+10, 11)
	p := storetest.Payload(data)
	p.ResumeAfter = time.Now().Add(-time.Minute)
	full := p.At
	p.At = &cutReader{r: full, limit: 2 * testPart}
	if _, err := killed.Put(ctx, "backup/ss-automatic-backup.gpg", p, store.Meta{Path: "backup/ss-automatic-backup.gpg"}); err == nil {
		t.Fatal("interrupted Put succeeded")
	}
	if ups := env.Uploads(t, bucket, "xroad/ss1/backup/"); len(ups) != 1 {
		t.Fatalf("%d uploads left by the interrupted run, want 1 to resume", len(ups))
	}

	api := &badFirstCompletion{S3API: env.Client(t)}
	clean, err := store.NewS3(api, o)
	if err != nil {
		t.Fatal(err)
	}
	p.At = full
	obj, err := clean.Put(ctx, "backup/ss-automatic-backup.gpg", p, store.Meta{Path: "backup/ss-automatic-backup.gpg"})
	if err != nil {
		t.Fatalf("the clean run failed: %v", err)
	}
	if n := api.sent.Load(); n != 2 {
		t.Errorf("%d completions sent, want the refused resumed one and the fresh one", n)
	}
	if obj.Resumed {
		t.Error("the stored object is reported as resumed; it was sent afresh")
	}
	rc, _, err := clean.Get(ctx, "backup/ss-automatic-backup.gpg")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != string(data) {
		t.Fatal("stored object differs from the file")
	}
	if ups := env.Uploads(t, bucket, "xroad/ss1/"); len(ups) != 0 {
		t.Errorf("%d uploads left", len(ups))
	}
}
