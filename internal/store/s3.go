package store

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
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
	// upload needs more than MaxParts parts. Default DefaultPartSize.
	PartSize int64
	// MultipartThreshold: larger payloads use multipart. Default
	// DefaultMultipartThreshold.
	MultipartThreshold int64
	// Concurrency bounds requests in flight across all Puts, and with
	// PartSize the memory used for streamed payloads. Default
	// DefaultConcurrency.
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
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < MinPartSize {
		return nil, fmt.Errorf("s3 store: part size %d is below the S3 minimum of 5 MiB", o.PartSize)
	}
	if o.MultipartThreshold == 0 {
		o.MultipartThreshold = DefaultMultipartThreshold
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
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
