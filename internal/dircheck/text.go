package dircheck

import (
	"fmt"
	"io"

	"github.com/xroad-archiver/archiver/internal/progress"
)

// WriteText writes r for a person: one summary line, the encrypted
// archives' counts, then one line per problem (JSON is r itself).
func (r *Result) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%s: %d of %d files verified (%d archives chain-checked, %d changed after the backup), %s read in %.1fs\n",
		r.Status, r.Verified, r.Expected, r.Archives, r.Changed, progress.Bytes(r.Bytes), r.Seconds)
	if r.Decrypted > 0 {
		fmt.Fprintf(w, "  %d encrypted archives decrypted, signature and chain checked\n", r.Decrypted)
	}
	if r.IntegrityOnly > 0 {
		fmt.Fprintf(w, "  %d encrypted archives checked for integrity only (SHA-256 and OpenPGP form; no key given)\n", r.IntegrityOnly)
	}
	for _, p := range r.Problems {
		_, err := fmt.Fprintf(w, "  %-11s %s %s\n", p.Kind, p.Path, p.Detail)
		if err != nil {
			return err
		}
	}
	return nil
}
