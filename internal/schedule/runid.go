package schedule

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// NewRunID is a fresh run id: the UTC start time, sortable, and three
// random bytes so two runs started in the same second differ
// (20261130T021500Z-a1b2c3).
func NewRunID(now time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// RunIDOr is id (a --run-id, a rerun's), or a fresh run id when id is
// empty.
func RunIDOr(id string, now time.Time) string {
	if id == "" {
		return NewRunID(now)
	}
	return id
}
