// Package s3sync ships finished X-Road archives and configuration backups
// from the archive directory to a destination store: scan, plan against the
// latest manifest, transfer (hash, optional zstd, streamed upload with
// checksums), commit the run's manifest, then prune local files whose
// archived copy is proven.
//
// Safety rules it keeps: a file is read through one open descriptor, hashed
// before upload, and rejected if it changes while shipping; objects are
// never overwritten (a rewritten archive gets a versioned key); a local file
// is deleted only after a HEAD shows an object with the same SHA-256 (and
// Object Lock retention when required). LimitMemory sets the heap limit
// its streaming buffers need. It does not verify or restore.
package s3sync
