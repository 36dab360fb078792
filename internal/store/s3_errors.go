package store

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/smithy-go"
)

// IsCode reports whether err is an AWS API error with one of codes (the
// SDK's smithy.APIError; used by every package that talks to AWS).
func IsCode(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}

// mapErr turns S3 error codes into this package's sentinels, keeping the
// server's message.
func (s *S3) mapErr(err error) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
			return fmt.Errorf("%w (HTTP 404)", ErrNotFound)
		}
		return err
	}
	code, msg := ae.ErrorCode(), ae.ErrorMessage()
	if s.o.KMSKeyID != "" { // servers may quote the key back
		msg = strings.ReplaceAll(msg, s.o.KMSKeyID, Redact(s.o.KMSKeyID))
	}
	detail := code
	if msg != "" {
		detail = code + ": " + msg
	}
	switch {
	case code == "NoSuchBucket":
		return fmt.Errorf("%w: %s (%s)", ErrNoBucket, s.o.Bucket, detail)
	case code == "NoSuchKey" || code == "NotFound":
		return fmt.Errorf("%w (%s)", ErrNotFound, detail)
	case code == "PreconditionFailed":
		return fmt.Errorf("%w (%s)", ErrExists, detail)
	case code == "AccessDenied" || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "AllAccessDisabled" || code == "Forbidden":
		return fmt.Errorf("%w (%s)", ErrAccessDenied, detail)
	case strings.HasPrefix(code, "KMS") || strings.Contains(strings.ToLower(code), "kms") || strings.Contains(strings.ToLower(msg), "kms"):
		return fmt.Errorf("%w: the configured key %s (%s)", ErrKMSKey, Redact(s.o.KMSKeyID), detail)
	case code == "BadDigest" || code == "InvalidDigest" || code == "XAmzContentChecksumMismatch" || code == "InvalidPart":
		return fmt.Errorf("%w (%s)", ErrChanged, detail)
	case code == "InvalidRequest" || code == "InvalidBucketState" || code == "NotImplemented":
		return fmt.Errorf("%w (%s)", ErrInvalidRequest, detail)
	}
	return err
}
