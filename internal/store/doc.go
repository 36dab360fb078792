// Package store is archiver's destination: a small Store interface for
// streamed, never-overwriting writes with integrity checks, plus reads,
// HEADs and listings, with two implementations: S3 (SSE-KMS on every write,
// multipart uploads that resume, full-object CRC32C checksums, conditional
// writes, Object Lock) and a local directory with the same layout (the
// file:// destination used by the demo). Open and OpenReader parse a
// location (s3://BUCKET/PREFIX, file:///dir) and open it; a Reader (head,
// get, list) is what code that must write nothing is given.
//
// Keys are slash-separated and relative to the store's root prefix. The
// package knows nothing of X-Road; one conformance suite (storetest) runs
// against both implementations. Its errors name values, never the
// command-line flags or YAML keys they came from: callers do.
package store
