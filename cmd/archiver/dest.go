package main

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/xroad-archiver/archiver/internal/store"
)

// destOptions are the flags shared by every command that reads or writes
// the destination.
type destOptions struct {
	dest        string
	endpointURL string
	region      string
	kmsKeyID    string
	bucketKey   bool
}

// s3Tuning are the S3 write settings of sync.
type s3Tuning struct {
	partSize, threshold int64
	concurrency         int
	bandwidth           int64
	lockMode            string
	lockRetention       string
}

// parseDest splits s3://bucket/prefix or file:///dir.
func parseDest(raw string) (scheme, bucket, prefix string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", "", usageErrorf("--dest %q: %v", raw, err)
	}
	switch u.Scheme {
	case "s3":
		if u.Host == "" {
			return "", "", "", usageErrorf("--dest %q: want s3://BUCKET/PREFIX", raw)
		}
		return "s3", u.Host, strings.Trim(u.Path, "/"), nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return "", "", "", usageErrorf("--dest %q: want file:///absolute/path", raw)
		}
		if u.Path == "" || !filepath.IsAbs(u.Path) {
			return "", "", "", usageErrorf("--dest %q: want file:///absolute/path", raw)
		}
		return "file", "", filepath.Clean(u.Path), nil
	}
	return "", "", "", usageErrorf("--dest %q: want s3://BUCKET/PREFIX or file:///path", raw)
}

// openStore opens the destination. forWrite requires a KMS key for S3.
func openStore(ctx context.Context, d destOptions, t s3Tuning, forWrite bool) (store.Store, error) {
	scheme, bucket, prefix, err := parseDest(d.dest)
	if err != nil {
		return nil, err
	}
	if scheme == "file" {
		if !forWrite { // verify, restore: read what is there, create nothing
			return store.OpenLocal(prefix)
		}
		return store.NewLocal(prefix)
	}
	if forWrite && d.kmsKeyID == "" {
		return nil, usageErrorf("--kms-key-id is required for s3:// destinations: every upload is SSE-KMS encrypted")
	}
	client, err := store.NewS3Client(ctx, store.ClientOptions{EndpointURL: d.endpointURL, Region: d.region, MaxConns: t.concurrency * 2})
	if err != nil {
		return nil, err
	}
	o := store.S3Options{Bucket: bucket, Prefix: prefix, KMSKeyID: d.kmsKeyID, BucketKey: d.bucketKey, ReadOnly: !forWrite,
		PartSize: t.partSize, MultipartThreshold: t.threshold, Concurrency: t.concurrency,
		Limiter: store.NewLimiter(t.bandwidth), LockMode: t.lockMode}
	if t.lockMode != "" {
		if o.LockRetention, err = parseDurationFlag("--object-lock-retention", t.lockRetention); err != nil {
			return nil, err
		}
	}
	s, err := store.NewS3(client, o)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return s, nil
}
