package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// S3API is the part of the S3 client this package uses; *s3.Client
// satisfies it unchanged.
type S3API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	CreateMultipartUpload(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(context.Context, *s3.UploadPartInput, ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUpload(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	ListMultipartUploads(context.Context, *s3.ListMultipartUploadsInput, ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error)
	ListParts(context.Context, *s3.ListPartsInput, ...func(*s3.Options)) (*s3.ListPartsOutput, error)
}

var _ S3API = (*s3.Client)(nil)

// S3Options configures an S3 store.
type S3Options struct {
	Bucket string
	Prefix string // keys are stored under Prefix + "/"; "" for the bucket root
	// KMSKeyID is required unless ReadOnly: every write carries SSE-KMS
	// with this key (id, ARN or alias). BucketKey enables an S3 Bucket Key
	// for the objects.
	KMSKeyID  string
	BucketKey bool
	// ReadOnly stores (verify, restore) need no key and refuse writes.
	ReadOnly bool
	// LockMode (GOVERNANCE or COMPLIANCE) and LockRetention set Object
	// Lock retention on every object; empty mode means none.
	LockMode      string
	LockRetention time.Duration
	// PartSize is the minimum multipart part size; it grows so that no
	// upload needs more than MaxParts parts. Default 8 MiB.
	PartSize int64
	// MultipartThreshold: larger payloads use multipart. Default 64 MiB.
	MultipartThreshold int64
	// Concurrency bounds requests in flight across all Puts, and with
	// PartSize the memory used for streamed payloads. Default 8.
	Concurrency int
	// Limiter, when set, caps the bytes per second sent in request bodies
	// across all uploads, so the Security Server is not starved.
	Limiter *rate.Limiter
	Now     func() time.Time
}

// S3 limits (docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html).
const (
	MaxParts    = 10000
	MinPartSize = 5 << 20
)

// S3 is a Store in an S3 bucket.
type S3 struct {
	api   S3API
	o     S3Options
	slots chan struct{}
	// bufs holds part buffers for streamed payloads. A buffer is taken only
	// while holding a slot, so at most Concurrency exist: memory for
	// streams is bounded by PartSize x Concurrency.
	bufs chan *[]byte

	mu          sync.Mutex
	resolvedKey string // key ARN the destination reported for an alias
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// NewS3 returns a store over api.
func NewS3(api S3API, o S3Options) (*S3, error) {
	if o.Bucket == "" {
		return nil, errors.New("s3 store: no bucket")
	}
	if o.KMSKeyID == "" && !o.ReadOnly {
		return nil, errors.New("s3 store: a KMS key id is required (SSE-KMS on every write)")
	}
	switch o.LockMode {
	case "", "GOVERNANCE", "COMPLIANCE":
	default:
		return nil, fmt.Errorf("s3 store: object lock mode %q: want GOVERNANCE or COMPLIANCE", o.LockMode)
	}
	if o.LockMode != "" && o.LockRetention <= 0 {
		return nil, errors.New("s3 store: object lock mode needs a positive retention period")
	}
	if o.PartSize == 0 {
		o.PartSize = 8 << 20
	}
	if o.PartSize < MinPartSize {
		return nil, fmt.Errorf("s3 store: part size %d is below the S3 minimum of 5 MiB", o.PartSize)
	}
	if o.MultipartThreshold == 0 {
		o.MultipartThreshold = 64 << 20
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Prefix = strings.Trim(o.Prefix, "/")
	return &S3{api: api, o: o, slots: make(chan struct{}, o.Concurrency), bufs: make(chan *[]byte, o.Concurrency)}, nil
}

// URL implements Store.
func (s *S3) URL() string {
	if s.o.Prefix == "" {
		return "s3://" + s.o.Bucket
	}
	return "s3://" + s.o.Bucket + "/" + s.o.Prefix
}

func (s *S3) full(key string) string {
	if s.o.Prefix == "" {
		return key
	}
	return s.o.Prefix + "/" + key
}

func (s *S3) rel(full string) string {
	if s.o.Prefix == "" {
		return full
	}
	return strings.TrimPrefix(full, s.o.Prefix+"/")
}

func (s *S3) acquire(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *S3) release() { <-s.slots }

// PartSizeFor returns the part size for a payload of size bytes: at least
// the configured size, rounded up to a MiB, and large enough for MaxParts.
func (s *S3) PartSizeFor(size int64) int64 {
	ps := s.o.PartSize
	if need := (size + MaxParts - 1) / MaxParts; need > ps {
		ps = (need + 1<<20 - 1) / (1 << 20) * (1 << 20)
	}
	return ps
}

func (s *S3) lock() (types.ObjectLockMode, *time.Time) {
	if s.o.LockMode == "" {
		return "", nil
	}
	t := s.o.Now().Add(s.o.LockRetention).UTC()
	return types.ObjectLockMode(s.o.LockMode), &t
}

func crcB64(c uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], c)
	return base64.StdEncoding.EncodeToString(b[:])
}

// Check implements Store.
func (s *S3) Check(ctx context.Context) error {
	// A one-key LIST of the prefix, not HeadBucket: HeadBucket needs
	// s3:ListBucket on the whole bucket, which a policy that allows listing
	// only the prefix (s3:prefix condition) refuses.
	p := s.full("")
	if _, err := s.api.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.o.Bucket, Prefix: &p, MaxKeys: aws.Int32(1)}); err != nil {
		err = s.mapErr(err)
		if errors.Is(err, ErrNotFound) && !errors.Is(err, ErrNoBucket) { // a bodiless 404 on the bucket means it is missing
			err = fmt.Errorf("%w: %s", ErrNoBucket, s.o.Bucket)
		}
		return fmt.Errorf("check destination: %w", err)
	}
	return nil
}

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

// CheckEncryption implements Store.
func (s *S3) CheckEncryption(o Object) error {
	if s.o.KMSKeyID == "" {
		return fmt.Errorf("%s: no KMS key configured to check it against: %w", o.Key, ErrNotEncrypted)
	}
	return s.checkEncrypted(o.Key, o.Encryption, o.KMSKeyID)
}

// checkEncrypted fails unless the destination reported SSE-KMS with the
// requested key.
func (s *S3) checkEncrypted(key, sse, kmsKey string) error {
	if sse != string(types.ServerSideEncryptionAwsKms) {
		return fmt.Errorf("%s came back with encryption %q: %w", key, sse, ErrNotEncrypted)
	}
	if !s.keyMatches(kmsKey) {
		return fmt.Errorf("%s came back encrypted with key %s, not the configured key %s: %w", key, Redact(kmsKey), Redact(s.o.KMSKeyID), ErrNotEncrypted)
	}
	return nil
}

// keyMatches compares the key the destination reports (usually a key ARN)
// with the requested one (id, ARN or alias). For an alias the first
// reported key is pinned and every later object must use the same one.
func (s *S3) keyMatches(got string) bool {
	want := s.o.KMSKeyID
	if got == "" {
		return false
	}
	if got == want || strings.HasSuffix(got, "/"+want) || strings.HasSuffix(got, ":"+want) ||
		strings.HasSuffix(want, "/"+got) || strings.HasSuffix(want, ":"+got) {
		return true
	}
	if strings.HasPrefix(want, "alias/") || strings.Contains(want, ":alias/") {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.resolvedKey == "" {
			s.resolvedKey = got
		}
		return s.resolvedKey == got
	}
	return false
}

// Redact shortens a KMS key id, ARN or alias to its last four characters,
// so keys never appear whole in logs or output.
func Redact(key string) string {
	if len(key) <= 4 {
		return "…"
	}
	return "…" + key[len(key)-4:]
}

// upload is an interrupted or new multipart upload.
type upload struct {
	id    string
	parts map[int32]types.Part
}

func (s *S3) findUpload(ctx context.Context, full string, after time.Time) (*upload, error) {
	ups, err := s.listUploads(ctx, full)
	if err != nil {
		return nil, err
	}
	var best *types.MultipartUpload
	for i := range ups {
		u := ups[i]
		if aws.ToString(u.Key) != full || u.Initiated == nil || !u.Initiated.After(after) {
			continue
		}
		if u.ChecksumAlgorithm != "" && u.ChecksumAlgorithm != types.ChecksumAlgorithmCrc32c {
			continue
		}
		if best == nil || u.Initiated.After(*best.Initiated) {
			best = &u
		}
	}
	if best == nil {
		return nil, nil
	}
	up := &upload{id: aws.ToString(best.UploadId), parts: map[int32]types.Part{}}
	lp := &s3.ListPartsInput{Bucket: &s.o.Bucket, Key: &full, UploadId: best.UploadId}
	for {
		out, err := s.api.ListParts(ctx, lp)
		if err != nil {
			if IsCode(err, "NoSuchUpload") {
				return nil, nil
			}
			return nil, s.mapErr(err)
		}
		for _, p := range out.Parts {
			up.parts[aws.ToInt32(p.PartNumber)] = p
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		lp.PartNumberMarker = out.NextPartNumberMarker
	}
	return up, nil
}

func (s *S3) create(ctx context.Context, key string, m Meta) (string, error) {
	mode, until := s.lock()
	out, err := s.api.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &s.o.Bucket, Key: aws.String(s.full(key)),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c, ChecksumType: types.ChecksumTypeFullObject,
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: &s.o.KMSKeyID, BucketKeyEnabled: s.bucketKey(),
		Metadata: m.toMap(), ObjectLockMode: mode, ObjectLockRetainUntilDate: until,
	})
	if err != nil {
		return "", fmt.Errorf("create multipart upload %s: %w", key, s.mapErr(err))
	}
	// Some servers (MinIO) report no encryption on CreateMultipartUpload;
	// the HEAD after completion is authoritative, this only fails early.
	if out.ServerSideEncryption != "" {
		if err := s.checkEncrypted(key, string(out.ServerSideEncryption), aws.ToString(out.SSEKMSKeyId)); err != nil {
			s.abort(key, aws.ToString(out.UploadId))
			return "", err
		}
	}
	return aws.ToString(out.UploadId), nil
}

// abort removes an upload; it runs even when ctx was cancelled.
func (s *S3) abort(key, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.o.Bucket, Key: aws.String(s.full(key)), UploadId: &id})
}

func (s *S3) uploadPart(ctx context.Context, key, id string, n int32, body io.ReadSeeker, size int64, crc uint32) (types.CompletedPart, error) {
	out, err := s.api.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &s.o.Bucket, Key: aws.String(s.full(key)), UploadId: &id, PartNumber: aws.Int32(n),
		Body: limit(ctx, body, s.o.Limiter), ContentLength: aws.Int64(size), ChecksumCRC32C: aws.String(crcB64(crc)),
	})
	if err != nil {
		return types.CompletedPart{}, fmt.Errorf("upload part %d of %s: %w", n, key, s.mapErr(err))
	}
	return types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag, ChecksumCRC32C: aws.String(crcB64(crc))}, nil
}

func reusable(up *upload, n int32, size int64, crc uint32) (types.CompletedPart, bool) {
	if up == nil {
		return types.CompletedPart{}, false
	}
	p, ok := up.parts[n]
	if !ok || aws.ToInt64(p.Size) != size || aws.ToString(p.ChecksumCRC32C) != crcB64(crc) {
		return types.CompletedPart{}, false
	}
	return types.CompletedPart{PartNumber: aws.Int32(n), ETag: p.ETag, ChecksumCRC32C: p.ChecksumCRC32C}, true
}

func (s *S3) startOrResume(ctx context.Context, key string, p Payload, m Meta) (*upload, bool, error) {
	up, err := s.findUpload(ctx, s.full(key), p.ResumeAfter)
	if err != nil {
		return nil, false, fmt.Errorf("look for interrupted upload of %s: %w", key, err)
	}
	if up != nil {
		return up, true, nil
	}
	id, err := s.create(ctx, key, m)
	if err != nil {
		return nil, false, err
	}
	return &upload{id: id}, false, nil
}

func (s *S3) putMultipart(ctx context.Context, key string, p Payload, m Meta) (Object, error) {
	up, resumed, err := s.startOrResume(ctx, key, p, m)
	if err != nil {
		return Object{}, err
	}
	ps := s.PartSizeFor(p.Size)
	nparts := int32((p.Size + ps - 1) / ps)
	parts := make([]types.CompletedPart, nparts)
	var reusedBytes int64
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for i := int32(0); i < nparts; i++ {
		if err := s.acquire(gctx); err != nil {
			break
		}
		off := int64(i) * ps
		size := min(ps, p.Size-off)
		n := i + 1
		g.Go(func() error {
			defer s.release()
			sec := io.NewSectionReader(p.At, off, size)
			h := crc32.New(castagnoli)
			if _, err := io.Copy(h, sec); err != nil {
				return fmt.Errorf("read part %d of %s: %w", n, key, err)
			}
			if cp, ok := reusable(up, n, size, h.Sum32()); ok {
				parts[n-1] = cp
				mu.Lock()
				reusedBytes += size
				mu.Unlock()
				return nil
			}
			cp, err := s.uploadPart(gctx, key, up.id, n, io.NewSectionReader(p.At, off, size), size, h.Sum32())
			parts[n-1] = cp
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return Object{}, s.failed(ctx, key, up.id, err)
	}
	if err := ctx.Err(); err != nil {
		return Object{}, s.failed(ctx, key, up.id, err)
	}
	if p.BeforeCommit != nil {
		if err := p.BeforeCommit(); err != nil {
			s.abort(key, up.id)
			return Object{}, err
		}
	}
	obj, err := s.complete(ctx, key, up.id, parts, p.CRC32C, p.Size, m)
	obj.Resumed, obj.ResumedBytes = resumed && reusedBytes > 0, reusedBytes
	return obj, err
}

// failed decides what happens to an upload after a part failed. A fatal
// or content error aborts it, and so does a graceful stop (ctx cancelled,
// e.g. SIGTERM): nothing is left behind. A network error leaves it for the
// next run to resume, as does a crash, which never gets here.
func (s *S3) failed(ctx context.Context, key, id string, err error) error {
	if IsFatal(err) || errors.Is(err, ErrChanged) || ctx.Err() != nil {
		s.abort(key, id)
	}
	return err
}

func (s *S3) complete(ctx context.Context, key, id string, parts []types.CompletedPart, crc uint32, size int64, m Meta) (Object, error) {
	sort.Slice(parts, func(i, j int) bool { return aws.ToInt32(parts[i].PartNumber) < aws.ToInt32(parts[j].PartNumber) })
	out, err := s.api.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.o.Bucket, Key: aws.String(s.full(key)), UploadId: &id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		ChecksumCRC32C:  aws.String(crcB64(crc)), ChecksumType: types.ChecksumTypeFullObject, MpuObjectSize: aws.Int64(size),
		IfNoneMatch: aws.String("*"),
	})
	if err != nil && ctx.Err() == nil && (unanswered(err) || IsCode(err, "NoSuchUpload")) {
		// No answer, or the SDK's retry found the upload gone: it may have
		// been completed by the attempt whose answer was lost. What is
		// stored decides.
		if serr := s.storedAfter(ctx, key, err); serr != nil {
			err = serr
		}
	}
	if err != nil {
		err = s.mapErr(err)
		if errors.Is(err, ErrExists) || errors.Is(err, ErrChanged) || IsFatal(err) {
			s.abort(key, id)
		}
		return Object{}, fmt.Errorf("complete upload of %s: %w", key, err)
	}
	// The response of CompleteMultipartUpload may lack the key id; HEAD
	// tells what was stored.
	obj, err := s.Head(ctx, key)
	if err != nil {
		return Object{}, fmt.Errorf("check uploaded %s: %w", key, err)
	}
	if aws.ToString(out.ChecksumCRC32C) != "" && out.ChecksumType == types.ChecksumTypeFullObject && aws.ToString(out.ChecksumCRC32C) != crcB64(crc) {
		return obj, fmt.Errorf("%s: stored checksum %s, sent %s: %w", key, aws.ToString(out.ChecksumCRC32C), crcB64(crc), ErrChanged)
	}
	return obj, s.checkEncrypted(key, obj.Encryption, obj.KMSKeyID)
}

func (s *S3) getBuf(n int64) *[]byte {
	select {
	case b := <-s.bufs:
		if int64(cap(*b)) >= n {
			*b = (*b)[:n]
			return b
		}
	default:
	}
	b := make([]byte, n)
	return &b
}

func (s *S3) putBuf(b *[]byte) {
	if int64(cap(*b)) < s.o.PartSize {
		return // a small first-part buffer: let the GC have it
	}
	select {
	case s.bufs <- b:
	default:
	}
}

// putStream uploads a sequential stream: the first part decides between a
// single PUT and a multipart upload; at most Concurrency part buffers exist.
func (s *S3) putStream(ctx context.Context, key string, p Payload, m Meta) (Object, error) {
	ps := s.PartSizeFor(p.Size)
	full := crc32.New(castagnoli)
	var total int64
	first := true
	read := func() (*[]byte, int, error) {
		if err := s.acquire(ctx); err != nil {
			return nil, 0, err
		}
		want := ps
		if first && p.Size+1 < ps {
			// Most streams are small: do not take a whole part buffer
			// (one spare byte tells a full buffer from the end).
			want = p.Size + 1
		}
		first = false
		b := s.getBuf(want)
		n, err := io.ReadFull(p.Stream, *b)
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			err = io.EOF
		}
		if err != nil && err != io.EOF {
			s.putBuf(b)
			s.release()
			return nil, 0, fmt.Errorf("read %s: %w", key, err)
		}
		full.Write((*b)[:n])
		total += int64(n)
		return b, n, err
	}
	b, n, rerr := read()
	if rerr != nil && rerr != io.EOF {
		return Object{}, rerr
	}
	if rerr == nil && int64(n) < ps {
		s.release()
		return Object{}, fmt.Errorf("%s: stream longer than its declared bound of %d bytes: %w", key, p.Size, ErrChanged)
	}
	if rerr == io.EOF { // fits in one part: single PUT
		s.release()
		defer s.putBuf(b)
		if p.BeforeCommit != nil {
			if err := p.BeforeCommit(); err != nil {
				return Object{}, err
			}
		}
		return s.putSingle(ctx, key, bytes.NewReader((*b)[:n]), int64(n), full.Sum32(), "", m)
	}
	up, resumed, err := s.startOrResume(ctx, key, p, m)
	if err != nil {
		s.putBuf(b)
		s.release()
		return Object{}, err
	}
	var parts []types.CompletedPart
	var mu sync.Mutex
	var reusedBytes int64
	g, gctx := errgroup.WithContext(ctx)
	for num := int32(1); ; num++ {
		if num > MaxParts {
			s.putBuf(b)
			s.release()
			g.Wait()
			return Object{}, s.failed(ctx, key, up.id, fmt.Errorf("%s: stream longer than %d parts of %d bytes: %w", key, MaxParts, ps, ErrChanged))
		}
		buf, size, partNum := b, n, num
		crc := crc32.Checksum((*buf)[:size], castagnoli)
		g.Go(func() error {
			defer s.release()
			defer s.putBuf(buf)
			if cp, ok := reusable(up, partNum, int64(size), crc); ok {
				mu.Lock()
				parts = append(parts, cp)
				reusedBytes += int64(size)
				mu.Unlock()
				return nil
			}
			cp, err := s.uploadPart(gctx, key, up.id, partNum, bytes.NewReader((*buf)[:size]), int64(size), crc)
			mu.Lock()
			parts = append(parts, cp)
			mu.Unlock()
			return err
		})
		if rerr == io.EOF {
			break
		}
		b, n, rerr = read()
		if rerr != nil && rerr != io.EOF {
			g.Wait()
			return Object{}, s.failed(ctx, key, up.id, rerr)
		}
		if rerr == io.EOF && n == 0 {
			s.putBuf(b)
			s.release()
			break
		}
		if gctx.Err() != nil {
			s.putBuf(b)
			s.release()
			break
		}
	}
	if err := g.Wait(); err != nil {
		return Object{}, s.failed(ctx, key, up.id, err)
	}
	if err := ctx.Err(); err != nil {
		return Object{}, s.failed(ctx, key, up.id, err)
	}
	if p.BeforeCommit != nil {
		if err := p.BeforeCommit(); err != nil {
			s.abort(key, up.id)
			return Object{}, err
		}
	}
	obj, err := s.complete(ctx, key, up.id, parts, full.Sum32(), total, m)
	obj.Resumed, obj.ResumedBytes = resumed && reusedBytes > 0, reusedBytes
	return obj, err
}

// Head implements Store.
func (s *S3) Head(ctx context.Context, key string) (Object, error) {
	out, err := s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.o.Bucket, Key: aws.String(s.full(key)), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		return Object{}, fmt.Errorf("head %s: %w", key, s.mapErr(err))
	}
	o := Object{Key: key, Size: aws.ToInt64(out.ContentLength), Meta: metaFromMap(out.Metadata), Encryption: string(out.ServerSideEncryption),
		KMSKeyID: aws.ToString(out.SSEKMSKeyId), CRC32C: aws.ToString(out.ChecksumCRC32C), LockMode: string(out.ObjectLockMode)}
	if out.LastModified != nil {
		o.LastModified = *out.LastModified
	}
	if out.ObjectLockRetainUntilDate != nil {
		o.RetainUntil = *out.ObjectLockRetainUntilDate
	}
	return o, nil
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	out, err := s.api.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.o.Bucket, Key: aws.String(s.full(key))})
	if err != nil {
		return nil, Object{}, fmt.Errorf("get %s: %w", key, s.mapErr(err))
	}
	o := Object{Key: key, Size: aws.ToInt64(out.ContentLength), Meta: metaFromMap(out.Metadata), Encryption: string(out.ServerSideEncryption),
		KMSKeyID: aws.ToString(out.SSEKMSKeyId), LockMode: string(out.ObjectLockMode)}
	if out.LastModified != nil {
		o.LastModified = *out.LastModified
	}
	return out.Body, o, nil
}

// List implements Store.
func (s *S3) List(ctx context.Context, prefix string, fn func(Object) error) error {
	p := s.full(prefix)
	if prefix == "" && s.o.Prefix != "" {
		p = s.o.Prefix + "/"
	}
	pg := s3.NewListObjectsV2Paginator(s.api, &s3.ListObjectsV2Input{Bucket: &s.o.Bucket, Prefix: &p})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, s.mapErr(err))
		}
		for _, c := range out.Contents {
			o := Object{Key: s.rel(aws.ToString(c.Key)), Size: aws.ToInt64(c.Size)}
			if c.LastModified != nil {
				o.LastModified = *c.LastModified
			}
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

// AbortIncomplete implements Store.
func (s *S3) AbortIncomplete(ctx context.Context, prefix string, keep func(string) bool) (int, error) {
	p := s.full(prefix)
	if prefix == "" && s.o.Prefix != "" {
		p = s.o.Prefix + "/"
	}
	ups, err := s.listUploads(ctx, p)
	if err != nil {
		return 0, fmt.Errorf("list multipart uploads: %w", err)
	}
	if p != "" {
		// Some servers (MinIO) filter uploads only by an exact key or not
		// at all: list the bucket too and keep what is below the prefix.
		all, err := s.listUploads(ctx, "")
		if err != nil {
			return 0, fmt.Errorf("list multipart uploads: %w", err)
		}
		seen := map[string]bool{}
		for _, u := range ups {
			seen[aws.ToString(u.UploadId)] = true
		}
		for _, u := range all {
			if strings.HasPrefix(aws.ToString(u.Key), p) && !seen[aws.ToString(u.UploadId)] {
				ups = append(ups, u)
			}
		}
	}
	n := 0
	for _, u := range ups {
		k := s.rel(aws.ToString(u.Key))
		if keep != nil && keep(k) {
			continue
		}
		if _, err := s.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.o.Bucket, Key: u.Key, UploadId: u.UploadId}); err != nil && !IsCode(err, "NoSuchUpload") {
			return n, fmt.Errorf("abort upload of %s: %w", k, s.mapErr(err))
		}
		n++
	}
	return n, nil
}

func (s *S3) listUploads(ctx context.Context, prefix string) ([]types.MultipartUpload, error) {
	in := &s3.ListMultipartUploadsInput{Bucket: &s.o.Bucket, Prefix: &prefix}
	var ups []types.MultipartUpload
	for {
		out, err := s.api.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, s.mapErr(err)
		}
		ups = append(ups, out.Uploads...)
		if !aws.ToBool(out.IsTruncated) {
			return ups, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	_, err := s.api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.o.Bucket, Key: aws.String(s.full(key))})
	if err != nil && !errors.Is(s.mapErr(err), ErrNotFound) {
		return fmt.Errorf("delete %s: %w", key, s.mapErr(err))
	}
	return nil
}

// IsCode reports whether err is an AWS API error with one of codes (the
// SDK's smithy.APIError; used by every package that talks to AWS).
func IsCode(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}

// mapErr turns S3 error codes into this package's sentinels, keeping the
// server's message.
func (s *S3) mapErr(err error) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
			return fmt.Errorf("%w (HTTP 404)", ErrNotFound)
		}
		return err
	}
	code, msg := ae.ErrorCode(), ae.ErrorMessage()
	if s.o.KMSKeyID != "" { // servers may quote the key back
		msg = strings.ReplaceAll(msg, s.o.KMSKeyID, Redact(s.o.KMSKeyID))
	}
	detail := code
	if msg != "" {
		detail = code + ": " + msg
	}
	switch {
	case code == "NoSuchBucket":
		return fmt.Errorf("%w: %s (%s)", ErrNoBucket, s.o.Bucket, detail)
	case code == "NoSuchKey" || code == "NotFound":
		return fmt.Errorf("%w (%s)", ErrNotFound, detail)
	case code == "PreconditionFailed":
		return fmt.Errorf("%w (%s)", ErrExists, detail)
	case code == "AccessDenied" || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "AllAccessDisabled" || code == "Forbidden":
		return fmt.Errorf("%w (%s)", ErrAccessDenied, detail)
	case strings.HasPrefix(code, "KMS") || strings.Contains(strings.ToLower(code), "kms") || strings.Contains(strings.ToLower(msg), "kms"):
		return fmt.Errorf("%w: the configured key %s (%s)", ErrKMSKey, Redact(s.o.KMSKeyID), detail)
	case code == "BadDigest" || code == "InvalidDigest" || code == "XAmzContentChecksumMismatch" || code == "InvalidPart":
		return fmt.Errorf("%w (%s)", ErrChanged, detail)
	case code == "InvalidRequest" || code == "InvalidBucketState" || code == "NotImplemented":
		return fmt.Errorf("%w (%s)", ErrInvalidRequest, detail)
	}
	return err
}
