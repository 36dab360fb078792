package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, p Payload, m Meta) (Object, error) {
	if s.o.ReadOnly || s.o.KMSKeyID == "" {
		return Object{}, fmt.Errorf("put %s: store opened read-only", key)
	}
	if err := CheckKey(key); err != nil {
		return Object{}, err
	}
	switch {
	case p.At != nil && p.Size <= s.o.MultipartThreshold:
		if p.BeforeCommit != nil {
			if err := p.BeforeCommit(); err != nil {
				return Object{}, err
			}
		}
		return s.putSingle(ctx, key, io.NewSectionReader(p.At, 0, p.Size), p.Size, p.CRC32C, p.SHA256, m)
	case p.At != nil:
		return s.putMultipart(ctx, key, p, m)
	case p.Stream != nil:
		return s.putStream(ctx, key, p, m)
	}
	return Object{}, errors.New("put: payload has neither At nor Stream")
}

// maxPutAttempts bounds the conditional PUTs sent for one object after
// transport errors (each may itself be retried by the SDK after an answer
// such as 503 SlowDown).
const maxPutAttempts = 3

func (s *S3) putSingle(ctx context.Context, key string, body io.ReadSeeker, size int64, crc uint32, sha string, m Meta) (Object, error) {
	if err := s.acquire(ctx); err != nil {
		return Object{}, err
	}
	defer s.release()
	opts := []func(*s3.Options){conditional}
	if sha != "" {
		opts = append(opts, withPayloadHash(sha))
	}
	mode, until := s.lock()
	in := &s3.PutObjectInput{
		Bucket: &s.o.Bucket, Key: aws.String(s.full(key)), Body: limit(ctx, body, s.o.Limiter), ContentLength: aws.Int64(size),
		ChecksumCRC32C:       aws.String(crcB64(crc)),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: &s.o.KMSKeyID,
		BucketKeyEnabled: s.bucketKey(), Metadata: m.toMap(), IfNoneMatch: aws.String("*"),
		ObjectLockMode: mode, ObjectLockRetainUntilDate: until,
	}
	var out *s3.PutObjectOutput
	for attempt := 1; ; attempt++ {
		if _, err := body.Seek(0, io.SeekStart); err != nil {
			return Object{}, fmt.Errorf("put %s: rewind: %w", key, err)
		}
		var err error
		out, err = s.api.PutObject(ctx, in, opts...)
		if err == nil {
			break
		}
		if !unanswered(err) || ctx.Err() != nil {
			return Object{}, fmt.Errorf("put %s: %w", key, s.mapErr(err))
		}
		// No answer: the server may have refused the precondition by
		// closing the connection while the body was still being sent, or
		// stored the object and the answer was lost. Look before sending
		// the body again.
		if err := s.storedAfter(ctx, key, err); err != nil {
			return Object{}, fmt.Errorf("put %s: %w", key, err)
		}
		if attempt == maxPutAttempts {
			return Object{}, fmt.Errorf("put %s: %w", key, s.mapErr(err))
		}
		if err := sleepCtx(ctx, time.Duration(attempt)*200*time.Millisecond); err != nil {
			return Object{}, fmt.Errorf("put %s: %w", key, err)
		}
	}
	obj := Object{Key: key, Size: size, Meta: m, Encryption: string(out.ServerSideEncryption), KMSKeyID: aws.ToString(out.SSEKMSKeyId),
		CRC32C: aws.ToString(out.ChecksumCRC32C), LockMode: string(mode), LastModified: s.o.Now()}
	if until != nil {
		obj.RetainUntil = *until
	}
	return obj, s.checkEncrypted(key, obj.Encryption, obj.KMSKeyID)
}

// storedAfter looks at key after a conditional write got no answer (cause).
// It returns an error matching ErrExists when an object is stored there
// (refused, or stored and the answer lost: the caller compares what is
// stored with what it sent), nil when nothing is, and the HEAD's error
// when it cannot tell.
func (s *S3) storedAfter(ctx context.Context, key string, cause error) error {
	_, err := s.Head(ctx, key)
	switch {
	case err == nil:
		return fmt.Errorf("%w (found stored after: %v)", ErrExists, cause)
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrAccessDenied):
		// A role that may list only its prefix gets 403, not 404, for a
		// missing key: nothing is stored that it could read.
		return nil
	}
	return fmt.Errorf("%w (after: %v)", err, cause)
}

// unanswered reports whether a request failed without an HTTP answer
// (connection reset or closed, timeout): the request may or may not have
// taken effect.
func unanswered(err error) bool {
	if err == nil {
		return false
	}
	// The SDK wraps a failed send in a response error with status 0.
	var re interface{ HTTPStatusCode() int }
	return !errors.As(err, &re) || re.HTTPStatusCode() == 0
}

// conditional configures a conditional write (If-None-Match). It sends
// Expect: 100-continue whatever the size, so a server can refuse the
// precondition before the body is sent, and it stops the SDK from resending
// after a transport error: a server may report a failed precondition by
// resetting the connection mid-body, and resending blindly would meet the
// same reset. The caller looks at what is stored instead (storedAfter).
func conditional(o *s3.Options) {
	o.ContinueHeaderThresholdBytes = 1
	r, ok := o.Retryer.(aws.RetryerV2)
	if !ok {
		r = retry.AddWithMaxAttempts(o.Retryer, o.Retryer.MaxAttempts()).(aws.RetryerV2)
	}
	o.Retryer = answeredOnly{r}
}

// answeredOnly retries what its retryer retries, except requests that got
// no answer.
type answeredOnly struct{ aws.RetryerV2 }

func (r answeredOnly) IsErrorRetryable(err error) bool {
	return !unanswered(err) && r.RetryerV2.IsErrorRetryable(err)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *S3) bucketKey() *bool {
	if s.o.BucketKey {
		return aws.Bool(true)
	}
	return nil
}
