package schedule

import (
	"testing"

	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/output/outputtest"
)

// TestWriteTextReturnsTheWriteError: a writer that fails at any line makes
// WriteText fail with its error.
func TestWriteTextReturnsTheWriteError(t *testing.T) {
	outputtest.CheckWriteText(t, &Report{RunID: "r1", Status: outcome.StatusPartial, Jobs: []JobReport{
		{Name: "sync", Status: outcome.StatusOK, DurationSec: 1.5},
		{Name: "verify", Status: outcome.StatusFailed, Error: "chain broken\nat mlog-2.zip"},
	}})
}
