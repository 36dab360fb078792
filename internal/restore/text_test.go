package restore

import (
	"testing"

	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/output/outputtest"
)

// TestWriteTextReturnsTheWriteError: a writer that fails makes WriteText
// fail with its error, whatever the result holds.
func TestWriteTextReturnsTheWriteError(t *testing.T) {
	// A dry run.
	outputtest.CheckWriteText(t, &Result{From: "s3://b/xroad", To: "/restore", DryRun: true, Status: outcome.StatusPlanned,
		Selected: Count{Files: 1, Bytes: 1024}, Planned: []Item{{Path: "a/mlog-1.zip", Size: 1024}}})
	// A partial restore.
	outputtest.CheckWriteText(t, &Result{From: "s3://b/xroad", To: "/restore", RunID: "r1", Status: outcome.StatusPartial,
		Selected: Count{Files: 2, Bytes: 2048}, Restored: Count{Files: 1, Bytes: 1024},
		Failed: []Item{{Path: "a/mlog-2.zip", Reason: "gone"}}, Error: "stopped"})
}
