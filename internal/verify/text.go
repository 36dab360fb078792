package verify

import (
	"fmt"
	"io"

	"github.com/xroad-archiver/archiver/internal/output"
	"github.com/xroad-archiver/archiver/internal/progress"
)

// WriteText writes r for a person: a summary table, then one line per
// finding (JSON is r itself).
func (r *Report) WriteText(w io.Writer) error {
	output.Title{Command: "verify", Status: string(r.Status)}.Write(w)
	t := output.NewTable(w, "  ")
	t.Row("destination", r.Destination)
	if r.Manifest != "" {
		t.Row("manifest", fmt.Sprintf("%s (%d in chain)", r.Manifest, r.Manifests))
	}
	t.Row("objects", fmt.Sprintf("%d recorded, %d present", r.Entries, r.Present))
	t.Row("re-read", fmt.Sprintf("%d files, %s (%.1f MB/s); %d not re-read (sample/budget)", r.Reread.Files, progress.Bytes(r.Reread.Bytes), r.MBPerSec, r.NotReread))
	t.Row("evidence", fmt.Sprintf("%d archives checked, %d groups", r.Archives, r.Groups))
	if r.Decrypted > 0 {
		t.Row("encrypted", fmt.Sprintf("%d of %d encrypted archives decrypted, signature and chain checked", r.Decrypted, r.Encrypted))
	}
	if r.IntegrityOnly > 0 {
		t.Row("encrypted", fmt.Sprintf("%d encrypted archives checked for integrity only (SHA-256 and OpenPGP form; no key given: content, chain and signer not checked)", r.IntegrityOnly))
	}
	for _, c := range r.Chains {
		what := map[string]string{"first": "first archive of the group", "restart": "new chain after a message-log database reset (line 1 \"- -\")"}[c.Kind]
		if c.Kind == "mid-history" {
			what = fmt.Sprintf("history here starts mid-chain: predecessor %s was never archived here", c.PrevArchive)
			if c.RecordedBy != "" {
				what += " (recorded by run " + c.RecordedBy + ")"
			}
		}
		t.Row("chain start", fmt.Sprintf("group %q: %s: %s", c.Group, c.Archive, what))
	}
	t.Row("record read", fmt.Sprintf("%d requests, %s (manifests, checkpoints, leaves)", r.Bookkeeping.Requests, progress.Bytes(r.Bookkeeping.BytesRead)))
	t.Row("duration", fmt.Sprintf("%.2fs", r.DurationSec))
	if err := t.Flush(); err != nil {
		return err
	}
	for _, f := range r.Findings {
		name := f.Key
		if name == "" {
			name = f.Path
		}
		fmt.Fprintf(w, "  %-7s %-12s %s: %s\n", map[string]string{"error": "ERROR", "warning": "WARNING"}[f.Severity], f.Kind, name, f.Detail)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  ERROR   %s\n", r.Error)
	}
	return nil
}
