package snapshot

import (
	"fmt"
	"io"
	"time"

	"github.com/xroad-archiver/archiver/internal/output"
	"github.com/xroad-archiver/archiver/internal/progress"
)

// WriteText writes r for a person: one line per volume with what was
// created, reused or pruned (JSON is r itself).
func (r *Result) WriteText(w io.Writer) error {
	output.Title{Command: "snapshot", DryRun: r.DryRun, Untouched: "nothing created or deleted", Status: string(r.Status), Notes: []string{"run " + r.RunID}}.Write(w)
	for _, v := range r.Volumes {
		what := ""
		if v.Volume != nil {
			what = fmt.Sprintf(" [%s %s%s%s]", v.Volume.Kind, v.Volume.VolumeID, v.Volume.FileSystemID, v.Volume.HostPath)
		}
		fmt.Fprintf(w, "  %s%s: %s", v.PVC, what, v.Status)
		if v.Error != "" {
			fmt.Fprintf(w, ": %s", v.Error)
		}
		fmt.Fprintln(w)
		for _, a := range v.Artifacts {
			writeArtifact(w, "    ", a)
		}
		if v.ContentManifest != "" {
			fmt.Fprintf(w, "    content manifest %s (%d files)\n", v.ContentManifest, v.Files)
		}
		for _, a := range v.Pruned {
			verb := "deleted"
			if r.DryRun {
				verb = "would delete"
			}
			fmt.Fprintf(w, "    %s %s %s (run %s, %s)\n", verb, a.Kind, a.ID, a.RunID, a.Started.Format(time.RFC3339))
		}
	}
	return nil
}

func writeArtifact(w io.Writer, indent string, a Artifact) {
	reused := ""
	if a.Reused {
		reused = " (found from an earlier attempt of this run)"
	}
	fmt.Fprintf(w, "%s%s %s %s %s%s\n", indent, a.Kind, a.ID, a.Region, a.State, reused)
	for _, c := range a.Copies {
		writeArtifact(w, indent+"  ", c)
	}
}

// Listing is what List found, as `archiver snapshot list` prints it
// (JSON: the list itself).
type Listing []VolumeResult

// WriteText writes the listing as WriteList does.
func (l Listing) WriteText(w io.Writer) error { return WriteList(w, l) }

// WriteList writes the archiver backups of each volume as a table (what
// `archiver snapshot list` prints), an error row for a volume that failed.
func WriteList(w io.Writer, vols []VolumeResult) error {
	t := output.NewTable(w, "")
	t.Row("PVC", "KIND", "ID", "REGION", "STATE", "SIZE", "AGE", "RUN")
	for _, v := range vols {
		if v.Error != "" {
			t.Row(v.PVC, "error", v.Error, "", "", "", "", "")
			continue
		}
		for _, a := range v.Artifacts {
			t.Row(v.PVC, a.Kind, a.ID, a.Region, a.State, progress.Bytes(a.SizeBytes),
				time.Since(a.Started).Round(time.Minute).String(), a.RunID)
		}
	}
	return t.Flush()
}
