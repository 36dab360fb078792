package verify

import (
	"testing"

	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/output/outputtest"
)

// TestWriteTextReturnsTheWriteError: a writer that fails makes WriteText
// fail with its error, whatever the report holds.
func TestWriteTextReturnsTheWriteError(t *testing.T) {
	// A verified destination.
	outputtest.CheckWriteText(t, &Report{Destination: "s3://b/xroad", Manifest: "m/1.json", Manifests: 1,
		Entries: 2, Present: 2, Status: outcome.StatusVerified})
	// A failed verification.
	outputtest.CheckWriteText(t, &Report{Destination: "s3://b/xroad", Entries: 2, Present: 1, Status: outcome.StatusFailed,
		Findings: []Finding{{Severity: "error", Kind: KindMissing, Key: "a/mlog-1.zip", Detail: "gone"}}, Error: "stopped"})
}
