package report

import (
	"testing"

	"github.com/xroad-archiver/archiver/internal/output/outputtest"
)

// TestWriteTextReturnsTheWriteError: a writer that fails at any line makes
// WriteText fail with its error.
func TestWriteTextReturnsTheWriteError(t *testing.T) {
	outputtest.CheckWriteText(t, Changes{Applied: true, List: []Change{
		{Alarm: "archiver-sync-failed", Action: "create"},
		{Alarm: "archiver-sync-stale", Action: "update", Fields: []string{"threshold"}},
	}})
}
