package s3sync

import (
	"testing"

	runoutcome "github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/output/outputtest"
)

// TestWriteTextReturnsTheWriteError: a writer that fails makes WriteText
// fail with its error, whatever the result holds.
func TestWriteTextReturnsTheWriteError(t *testing.T) {
	// A dry run.
	outputtest.CheckWriteText(t, &Result{RunID: "r1", Source: "/var/lib/xroad", Destination: "s3://b/xroad", DryRun: true,
		Status: runoutcome.StatusPlanned, Planned: []string{"a/mlog-1.zip"}, PrunePlanned: []string{"a/mlog-0.zip"}})
	// A partial sync.
	outputtest.CheckWriteText(t, &Result{RunID: "r2", Source: "/var/lib/xroad", Destination: "s3://b/xroad",
		Status: runoutcome.StatusPartial, Uploaded: Count{Files: 1, Bytes: 1024},
		Failed: []Failure{{Path: "a/mlog-2.zip", Error: "gone"}}, Error: "stopped"})
}
