package snapshot

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/outcome"
	"github.com/xroad-archiver/archiver/internal/output/outputtest"
)

func TestListingPrintsItself(t *testing.T) {
	l := Listing{
		{PVC: "xroad/data", Artifacts: []Artifact{{Kind: "ebs-snapshot", ID: "snap-0123", Region: "eu-west-1", State: "completed", SizeBytes: 10 << 30, Started: time.Now().Add(-time.Hour), RunID: "r1"}}},
		{PVC: "xroad/gone", Error: "persistentvolumeclaims \"gone\" not found"},
	}
	var text, list strings.Builder
	if err := l.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := WriteList(&list, l); err != nil || text.String() != list.String() {
		t.Fatalf("WriteText %q, WriteList %q (%v)", text.String(), list.String(), err)
	}
	for _, want := range []string{"PVC", "xroad/data", "snap-0123", "10.0 GiB", "xroad/gone", "error", "not found"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("listing %q lacks %q", text.String(), want)
		}
	}
	js, err := json.Marshal(l)
	var back []VolumeResult
	if err != nil || json.Unmarshal(js, &back) != nil || len(back) != 2 || back[0].Artifacts[0].ID != "snap-0123" {
		t.Fatalf("JSON %s (%v): want the list itself", js, err)
	}
}

// TestWriteTextReturnsTheWriteError: a writer that fails at any line makes
// WriteText fail with its error, for a run's result and for a listing.
func TestWriteTextReturnsTheWriteError(t *testing.T) {
	a := Artifact{Kind: "ebs-snapshot", ID: "snap-1", Region: "eu-west-1", State: "completed", Started: time.Now(), RunID: "r1"}
	outputtest.CheckWriteText(t, &Result{RunID: "r1", Status: outcome.StatusPartial, Volumes: []VolumeResult{
		{PVC: "xroad/data", Status: outcome.StatusOK, Artifacts: []Artifact{a}, ContentManifest: "m.json", Files: 3, Pruned: []Artifact{a}},
		{PVC: "xroad/gone", Status: outcome.StatusFailed, Error: "not found"},
	}})
	outputtest.CheckWriteText(t, Listing{{PVC: "xroad/data", Artifacts: []Artifact{a}}, {PVC: "xroad/gone", Error: "not found"}})
}
