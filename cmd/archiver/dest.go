package main

import (
	"context"
	"errors"
	"time"

	"github.com/xroad-archiver/archiver/internal/jobs"
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
	lockRetention       time.Duration
}

// location parses --dest; store.ParseLocation does, this names the flag.
func (d destOptions) location() (store.Location, error) {
	loc, err := store.ParseLocation(d.dest)
	if err != nil {
		return loc, usageErrorf("--dest %v", err)
	}
	return loc, nil
}

// openOptions turns the flags into store.Open's options.
func (d destOptions) openOptions(t s3Tuning) store.OpenOptions {
	return store.OpenOptions{EndpointURL: d.endpointURL, Region: d.region, KMSKeyID: d.kmsKeyID, BucketKey: d.bucketKey,
		PartSize: t.partSize, MultipartThreshold: t.threshold, Concurrency: t.concurrency, BandwidthLimit: t.bandwidth,
		LockMode: t.lockMode, LockRetention: t.lockRetention}
}

// openStore opens the destination. forWrite requires a KMS key for S3;
// without it the store refuses writes (a dry run).
func openStore(ctx context.Context, d destOptions, t s3Tuning, forWrite bool) (store.Store, error) {
	loc, err := d.location()
	if err != nil {
		return nil, err
	}
	o := d.openOptions(t)
	o.ReadOnly = !forWrite
	s, err := store.Open(ctx, loc, o)
	return s, openErr(err)
}

// openReader opens the destination to read it (verify, restore, the
// manifests of a restore test): it creates nothing and needs no KMS key.
func openReader(ctx context.Context, d destOptions, concurrency int) (store.Reader, error) {
	loc, err := d.location()
	if err != nil {
		return nil, err
	}
	s, err := store.OpenReader(ctx, loc, store.OpenOptions{EndpointURL: d.endpointURL, Region: d.region, Concurrency: concurrency})
	return s, openErr(err)
}

// openErr names the flag behind an unusable store option: store's errors
// name values, not flags.
func openErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNoKMSKey):
		return usageErrorf("--kms-key-id is required for s3:// destinations: every upload is SSE-KMS encrypted")
	case errors.Is(err, store.ErrInvalid), errors.Is(err, jobs.ErrConfig):
		return usageErrorf("%v", err)
	}
	return err
}
