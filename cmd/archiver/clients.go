package main

import (
	"context"
	"errors"

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
}

// location parses --dest; store.ParseLocation does, this names the flag.
func (d destOptions) location() (store.Location, error) {
	loc, err := store.ParseLocation(d.dest)
	if err != nil {
		return loc, usageErrorf("--dest %v", err)
	}
	return loc, nil
}

// openReader opens the destination to read it (restore, verify-dir's
// --restore-from): it creates nothing and needs no KMS key.
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

// clients are the real services as every command reaches them: stores,
// the API server (in-cluster unless --kubeconfig is given, else kubectl's
// rules: --kubeconfig, $KUBECONFIG, ~/.kube/config) and AWS (the SDK's
// default configuration and credential chain).
func clients(kubeconfig string) jobs.Clients {
	return jobs.DefaultClients(kubeconfig, "archiver/"+version)
}
