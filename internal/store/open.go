package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// ErrInvalid marks a destination or store option that cannot be used (a
// malformed location, a missing KMS key, an unknown Object Lock mode):
// nothing was opened or changed. Its text names the value, never a
// command-line flag: the caller knows which flag or YAML key it came from.
var ErrInvalid = errors.New("invalid destination")

// ErrNoKMSKey: a writable s3:// store was asked for without a KMS key.
var ErrNoKMSKey error = &invalidError{"a KMS key is required for s3:// destinations: every upload is SSE-KMS encrypted"}

type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, a ...any) error { return &invalidError{fmt.Sprintf(format, a...)} }

// Location is a parsed destination.
type Location struct {
	// Scheme is "s3" or "file".
	Scheme string
	// Bucket is the S3 bucket (s3 only).
	Bucket string
	// Path is the key prefix without surrounding slashes (s3) or the
	// cleaned absolute directory (file).
	Path string
}

// ParseLocation parses s3://BUCKET/PREFIX or file:///absolute/path. An
// error matches ErrInvalid and quotes raw.
func ParseLocation(raw string) (Location, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Location{}, invalidf("%q: %v", raw, err)
	}
	switch u.Scheme {
	case "s3":
		if u.Host == "" {
			return Location{}, invalidf("%q: want s3://BUCKET/PREFIX", raw)
		}
		return Location{Scheme: "s3", Bucket: u.Host, Path: strings.Trim(u.Path, "/")}, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" || u.Path == "" || !filepath.IsAbs(u.Path) {
			return Location{}, invalidf("%q: want file:///absolute/path", raw)
		}
		return Location{Scheme: "file", Path: filepath.Clean(u.Path)}, nil
	}
	return Location{}, invalidf("%q: want s3://BUCKET/PREFIX or file:///path", raw)
}

// Defaults of OpenOptions and S3Options, the one place they are written.
const (
	DefaultPartSize           = 8 << 20
	DefaultMultipartThreshold = 64 << 20
	DefaultConcurrency        = 8
)

// OpenOptions are everything Open needs besides the location. Zero values
// take the defaults above; S3 client settings not given here come from
// the AWS SDK's standard configuration (see ClientOptions).
type OpenOptions struct {
	EndpointURL string
	Region      string
	Credentials aws.CredentialsProvider // nil: the SDK's default chain
	// KMSKeyID is required to write to s3://; BucketKey enables an S3
	// Bucket Key on the objects.
	KMSKeyID  string
	BucketKey bool
	// ReadOnly opens a store whose writes fail (a dry run that must go
	// through code written against Store); a reader should use OpenReader.
	ReadOnly           bool
	PartSize           int64
	MultipartThreshold int64
	Concurrency        int
	BandwidthLimit     int64 // bytes per second sent; 0: unlimited
	LockMode           string
	LockRetention      time.Duration
}

// Open opens the destination at loc for writing: a local directory is
// created if needed; S3 needs a KMS key (ErrNoKMSKey). Errors in the
// options match ErrInvalid; others (AWS configuration) do not.
func Open(ctx context.Context, loc Location, o OpenOptions) (Store, error) {
	var (
		s   Store
		err error
	)
	switch {
	case loc.Scheme == "file" && o.ReadOnly:
		s, err = OpenLocal(loc.Path)
	case loc.Scheme == "file":
		s, err = NewLocal(loc.Path)
	case !o.ReadOnly && o.KMSKeyID == "":
		err = ErrNoKMSKey
	default:
		s, err = openS3(ctx, loc, o)
	}
	if err != nil {
		return nil, err // a nil Store, not a nil *Local or *S3 in one
	}
	return s, nil
}

// OpenReader opens an existing destination to read it: it creates
// nothing (a missing local directory is an error that names it) and needs
// no KMS key. What it returns cannot write: the compiler checks that a
// reader (verify, restore, the manifest loaders) writes nothing.
func OpenReader(ctx context.Context, loc Location, o OpenOptions) (Reader, error) {
	o.ReadOnly = true
	s, err := Open(ctx, loc, o)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func openS3(ctx context.Context, loc Location, o OpenOptions) (*S3, error) {
	if loc.Scheme != "s3" {
		return nil, invalidf("location scheme %q: want s3 or file", loc.Scheme)
	}
	conc := o.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	client, err := NewS3Client(ctx, ClientOptions{EndpointURL: o.EndpointURL, Region: o.Region, Credentials: o.Credentials, MaxConns: conc * 2})
	if err != nil {
		return nil, err
	}
	s, err := NewS3(client, S3Options{Bucket: loc.Bucket, Prefix: loc.Path, KMSKeyID: o.KMSKeyID, BucketKey: o.BucketKey, ReadOnly: o.ReadOnly,
		PartSize: o.PartSize, MultipartThreshold: o.MultipartThreshold, Concurrency: o.Concurrency,
		Limiter: NewLimiter(o.BandwidthLimit), LockMode: o.LockMode, LockRetention: o.LockRetention})
	if err != nil {
		return nil, &invalidError{err.Error()}
	}
	return s, nil
}
