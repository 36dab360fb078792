package jobs

import (
	"context"
	"fmt"

	"github.com/xroad-archiver/archiver/internal/config"
	"github.com/xroad-archiver/archiver/internal/doctor"
	"github.com/xroad-archiver/archiver/internal/store"
)

// DoctorOptions turns the configuration into what doctor checks, with
// the clients from cl. The destination is opened read-only first, so a
// mistyped file:// destination is reported, not created; with probe,
// doctor opens it for writing only once that check passed. Failures to
// connect are carried in the options (doctor reports them as checks).
func DoctorOptions(ctx context.Context, c *config.Config, cl Clients, probe bool) doctor.Options {
	cl = cl.withDefaults()
	var o doctor.Options
	if s := c.Sync; s.Dest != "" {
		loc, err := store.ParseLocation(s.Dest)
		if err != nil {
			o.StoreErr = fmt.Errorf("sync.dest %w", err)
		} else {
			o.Store, o.StoreErr = cl.OpenReader(ctx, loc, store.OpenOptions{EndpointURL: s.EndpointURL, Region: s.Region, Concurrency: 1})
		}
		if probe && err == nil {
			oo := store.OpenOptions{EndpointURL: s.EndpointURL, Region: s.Region, KMSKeyID: s.KMSKeyID, BucketKey: s.BucketKey, Concurrency: 1}
			o.OpenProbe = func() (store.Store, error) { return cl.OpenStore(ctx, loc, oo) }
		}
		if err == nil && loc.Scheme == "s3" && o.StoreErr == nil {
			o.Bucket, o.Prefix = loc.Bucket, loc.Path
			if client, err := store.NewS3Client(ctx, store.ClientOptions{EndpointURL: s.EndpointURL, Region: s.Region}); err != nil {
				o.S3Err = err
			} else {
				o.S3 = client
			}
		}
		o.WantLock = s.ObjectLock != nil && s.ObjectLock.Mode.IsSet()
	}
	if c.Snapshot.Enabled {
		o.PVCs = c.Snapshot.PVCs
	}
	o.LeaseNamespace = c.Lock.Namespace
	o.PrimarySelector, o.Mounts = c.Primary.Selector, c.Snapshot.Mounts
	if c.RestoreTest.Enabled {
		o.Scratch = c.RestoreTest.Namespace
	}
	if len(o.PVCs) > 0 || o.LeaseNamespace != "" || o.Scratch != "" {
		o.Kube, o.KubeErr = cl.KubeClient()
	}
	return o
}
