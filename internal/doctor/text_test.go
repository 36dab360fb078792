package doctor

import (
	"testing"

	"github.com/xroad-archiver/archiver/internal/output/outputtest"
)

// TestWriteTextReturnsTheWriteError: a writer that fails at any line makes
// WriteText fail with its error.
func TestWriteTextReturnsTheWriteError(t *testing.T) {
	outputtest.CheckWriteText(t, &Report{Status: Fail, Checks: []Check{
		{Name: "credentials", Status: OK, Detail: "role arn:aws:iam::1:role/archiver"},
		{Name: "bucket", Status: Fail, Detail: "no such bucket"},
	}})
}
