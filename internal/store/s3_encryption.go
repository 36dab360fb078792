package store

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

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
