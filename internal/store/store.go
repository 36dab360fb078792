package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// Reader is the read side of a destination: what verify, restore and the
// manifest loaders need. A Reader has no method that writes, so code that
// is given one cannot change the destination.
type Reader interface {
	// Head returns the object's description, or an error matching
	// ErrNotFound.
	Head(ctx context.Context, key string) (Object, error)
	// Get streams the object's stored bytes; the caller closes the reader.
	// A missing key gives an error matching ErrNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, Object, error)
	// List calls fn for every object whose key starts with prefix, in
	// lexical key order. Listed objects carry Key, Size and LastModified
	// only. An error from fn stops the listing and is returned.
	List(ctx context.Context, prefix string, fn func(Object) error) error
	// Check verifies that the destination exists and is reachable with the
	// configured credentials, without writing anything.
	Check(ctx context.Context) error
	// URL names the destination for humans (s3://bucket/prefix, file:///dir).
	URL() string
}

// Store is a destination for archived objects: a Reader that also writes.
type Store interface {
	Reader
	// Put writes a new object at key from p, with m as its metadata. It never
	// overwrites: if key already exists it returns an error matching
	// ErrExists and the stored object is unchanged. The object becomes
	// visible only after every byte was sent, checked (CRC32C) and
	// p.BeforeCommit returned nil; on any error nothing is visible at key.
	// Put is safe for concurrent use.
	Put(ctx context.Context, key string, p Payload, m Meta) (Object, error)
	// AbortIncomplete removes interrupted uploads below prefix that keep
	// does not claim, and returns how many it removed. Idempotent.
	AbortIncomplete(ctx context.Context, prefix string, keep func(key string) bool) (int, error)
	// Delete removes an object; a missing object is not an error. Only used
	// for archiver's own scratch objects, never for archived data.
	Delete(ctx context.Context, key string) error
	// CheckEncryption returns nil when o (from Head) is encrypted the way
	// Put encrypts (S3: SSE-KMS with the configured key; a local directory
	// has no server-side encryption), else an error matching
	// ErrNotEncrypted. A caller checks it before adopting an object that an
	// earlier, interrupted Put left behind.
	CheckEncryption(o Object) error
}

// Payload is the data of one Put.
type Payload struct {
	// At gives random access to exactly Size bytes: parts are read
	// concurrently, possibly more than once, and an interrupted multipart
	// upload can be resumed. Set either At or Stream.
	At io.ReaderAt
	// Stream is read once, sequentially; Size is then an upper bound used
	// to choose the part size.
	Stream io.Reader
	Size   int64
	// CRC32C is the Castagnoli CRC of At's bytes, computed by the caller in
	// the same pass as its SHA-256. The store sends it as the full-object
	// checksum, so the destination rejects the object if the bytes it
	// received differ from the bytes the caller hashed. Ignored for Stream
	// payloads (the store computes it while reading).
	CRC32C uint32
	// SHA256, when set, is the lowercase hex SHA-256 of At's bytes; a
	// single-request upload is signed with it, so the destination verifies
	// the object's SHA-256 itself.
	SHA256 string
	// BeforeCommit, when set, runs after the last byte was read and before
	// the object becomes visible. An error aborts the write.
	BeforeCommit func() error
	// ResumeAfter allows resuming an interrupted upload of the same key
	// only if it was started after this instant (the source's mtime): an
	// older upload may hold bytes of a previous version.
	ResumeAfter time.Time
}

// Meta is archiver's metadata, stored with every object so that one HEAD
// proves what the object holds.
type Meta struct {
	SHA256   string    // lowercase hex SHA-256 of the original bytes
	Size     int64     // original size in bytes
	MTime    time.Time // source modification time
	Encoding string    // "" (stored as is) or "zstd"
	Path     string    // source-relative path
	RunID    string    // run that wrote the object
}

// Object describes a stored object.
type Object struct {
	Key          string
	Size         int64 // stored bytes (compressed size when Encoding is set)
	LastModified time.Time
	Meta         Meta
	// Encryption is the server-side encryption reported by the destination
	// ("aws:kms"; "" for the local directory) and KMSKeyID its key.
	Encryption string
	KMSKeyID   string
	// CRC32C is the base64 full-object checksum the destination reports.
	CRC32C      string
	LockMode    string
	RetainUntil time.Time
	// Resumed is true when Put completed an upload started by an earlier,
	// interrupted attempt; ResumedBytes is what it did not resend.
	Resumed      bool
	ResumedBytes int64
}

// Errors callers act on.
var (
	ErrExists   = errors.New("object already exists")
	ErrNotFound = errors.New("object not found")
	// ErrChanged: the bytes read differ from the bytes the caller hashed.
	ErrChanged = errors.New("content changed while uploading")
	// Errors that concern the whole destination, not one object: a run
	// stops at the first of these.
	ErrNoBucket       = errors.New("bucket does not exist")
	ErrAccessDenied   = errors.New("access denied")
	ErrKMSKey         = errors.New("KMS key not usable")
	ErrNotEncrypted   = errors.New("object not encrypted with the requested KMS key")
	ErrInvalidRequest = errors.New("request rejected by the destination")
)

// IsFatal reports whether err concerns the whole destination (missing
// bucket, credentials, KMS key, encryption) rather than one object.
func IsFatal(err error) bool {
	return errors.Is(err, ErrNoBucket) || errors.Is(err, ErrAccessDenied) || errors.Is(err, ErrKMSKey) ||
		errors.Is(err, ErrNotEncrypted) || errors.Is(err, ErrInvalidRequest)
}

// CheckKey rejects keys that are not clean relative slash paths.
func CheckKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") || strings.ContainsRune(key, 0) ||
		path.Clean(key) != key || key == "." || key == ".." || strings.HasPrefix(key, "../") {
		return fmt.Errorf("invalid object key %q", key)
	}
	return nil
}

// Metadata keys (x-amz-meta-*) as stored.
const (
	metaSHA256   = "archiver-sha256"
	metaSize     = "archiver-size"
	metaMTime    = "archiver-mtime"
	metaEncoding = "archiver-encoding"
	metaPath     = "archiver-path"
	metaRunID    = "archiver-run-id"
)

func (m Meta) toMap() map[string]string {
	out := map[string]string{
		metaSHA256: m.SHA256,
		metaSize:   strconv.FormatInt(m.Size, 10),
		metaMTime:  m.MTime.UTC().Format(time.RFC3339Nano),
		metaPath:   url.PathEscape(m.Path),
		metaRunID:  m.RunID,
	}
	if m.Encoding != "" {
		out[metaEncoding] = m.Encoding
	}
	return out
}

func metaFromMap(mm map[string]string) Meta {
	get := func(k string) string {
		if v, ok := mm[k]; ok {
			return v
		}
		for kk, v := range mm { // some servers change the case
			if strings.EqualFold(kk, k) {
				return v
			}
		}
		return ""
	}
	m := Meta{SHA256: get(metaSHA256), Encoding: get(metaEncoding), RunID: get(metaRunID)}
	m.Path, _ = url.PathUnescape(get(metaPath))
	m.Size, _ = strconv.ParseInt(get(metaSize), 10, 64)
	m.MTime, _ = time.Parse(time.RFC3339Nano, get(metaMTime))
	return m
}
