package dircheck

import (
	"testing"

	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/output/outputtest"
)

// TestWriteTextReturnsTheWriteError: a writer that fails at any line makes
// WriteText fail with its error.
func TestWriteTextReturnsTheWriteError(t *testing.T) {
	outputtest.CheckWriteText(t, &Result{Status: outcome.StatusFailed, Expected: 3, Verified: 1, Decrypted: 1, IntegrityOnly: 1,
		Problems: []Problem{{Path: "mlog-2.zip", Kind: "missing"}, {Path: "mlog-3.zip", Kind: "content", Detail: "SHA-256 differs"}}})
}
