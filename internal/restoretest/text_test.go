package restoretest

import (
	"testing"

	"github.com/xroad-archiver/archiver/internal/dircheck"
	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/output/outputtest"
)

// TestWriteTextReturnsTheWriteError: a writer that fails at any line makes
// WriteText fail with its error, for a drill's result and for its plan.
func TestWriteTextReturnsTheWriteError(t *testing.T) {
	b := Backup{Kind: "ebs-snapshot", ID: "snap-1", RunID: "r1"}
	outputtest.CheckWriteText(t, &Result{RunID: "d1", Source: "xroad/data", Kind: "ebs", Backup: b, Namespace: "xroad",
		Status: outcome.StatusFailed, Check: &dircheck.Result{Status: outcome.StatusFailed, Expected: 2, Verified: 1,
			Problems: []dircheck.Problem{{Path: "mlog-2.zip", Kind: "missing"}}},
		Deleted: []string{"pvc/scratch"}, Leftovers: []string{"pvc/old"}})
	outputtest.CheckWriteText(t, &DryRunPlan{DryRun: true, Source: "xroad/data", Backup: b, Namespace: "xroad", Create: []string{"pvc/scratch", "pod/verifier"}})
}
