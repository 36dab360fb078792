package verify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/store"
)

// manifestChain opens the state to verify and walks the manifests back to
// the first, checking each one's SHA-256 against the pin its successor
// holds, that a format 1 manifest records everything its predecessor
// does, and that every checkpoint holds exactly its predecessor's state
// plus its run's entries. It holds one manifest and its predecessor at a
// time (format 2 manifests hold their run's entries only), plus the keys
// of the manifests on the chain.
func manifestChain(ctx context.Context, s store.Reader, asOf string, now time.Time) (*manifest.State, int, []Finding, error) {
	key, err := headKey(ctx, s, asOf)
	if err != nil {
		return nil, 0, nil, err
	}
	head, ref, err := manifest.Load(ctx, s, key)
	if err != nil {
		return nil, 0, nil, err
	}
	st, err := manifest.Open(ctx, s, key)
	if err != nil {
		return nil, 0, nil, err
	}
	w := &chainWalk{s: s, onChain: map[string]bool{ref.Key: true}}
	n, err := w.walk(ctx, head, ref)
	if err != nil {
		return nil, 0, nil, err
	}
	if asOf == "" && len(w.findings) == 0 { // a broken chain is reported already; everything older would be "off" it
		more, err := offChain(ctx, s, st.Head.Seq, w.onChain, now)
		if err != nil {
			return nil, 0, nil, err
		}
		w.findings = append(w.findings, more...)
	}
	return st, n, w.findings, nil
}

// headKey returns the key of asOf's manifest, or of the newest one.
func headKey(ctx context.Context, s store.Reader, asOf string) (string, error) {
	if asOf != "" {
		return manifest.Find(ctx, s, asOf)
	}
	st, err := manifest.OpenLatest(ctx, s)
	if err != nil {
		return "", err
	}
	if st == nil {
		return "", ErrNoManifest
	}
	return st.Ref.Key, nil
}

// chainWalk collects the findings of a walk down the manifest chain.
type chainWalk struct {
	s        store.Reader
	findings []Finding
	onChain  map[string]bool
}

func (w *chainWalk) add(key, path, detail string) {
	w.findings = append(w.findings, Finding{Severity: "error", Kind: KindManifest, Key: key, Path: path, Detail: detail})
}

// walk follows Previous from head to the first manifest and returns how
// many manifests it read.
func (w *chainWalk) walk(ctx context.Context, head *manifest.Manifest, ref *manifest.Ref) (int, error) {
	if err := w.checkpoint(ctx, head, ref.Key); err != nil {
		return 0, err
	}
	n := 1
	for cur := head; cur.Previous != nil; n++ {
		prev, pref, err := manifest.Load(ctx, w.s, cur.Previous.Key)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, manifest.ErrInvalid) {
				w.add(cur.Previous.Key, "", fmt.Sprintf("manifest of run %s names this predecessor, which is unreadable: %v", cur.RunID, err))
				break
			}
			return 0, err
		}
		if pref.SHA256 != cur.Previous.SHA256 {
			w.add(pref.Key, "", fmt.Sprintf("SHA-256 %s, but the manifest of run %s pins %s", pref.SHA256, cur.RunID, cur.Previous.SHA256))
		}
		if cur.Version == manifest.VersionFull {
			if lost := dropped(prev, cur); len(lost) > 0 {
				w.add(cur.Previous.Key, lost[0], fmt.Sprintf("the manifest of run %s leaves out %d entries this predecessor records (first: %s); every manifest holds all earlier ones",
					cur.RunID, len(lost), lost[0]))
			}
		}
		if err := w.checkpoint(ctx, prev, pref.Key); err != nil {
			return 0, err
		}
		w.onChain[pref.Key] = true
		cur = prev
	}
	return n, nil
}

// checkpoint checks the checkpoint cur pins, if any (see
// manifest.CheckCheckpoint: one leaf at a time).
func (w *chainWalk) checkpoint(ctx context.Context, cur *manifest.Manifest, key string) error {
	err := manifest.CheckCheckpoint(ctx, w.s, cur)
	if errors.Is(err, manifest.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
		w.add(key, "", fmt.Sprintf("the checkpoint of run %s's manifest is not its state: %v", cur.RunID, err))
		return nil
	}
	return err
}

// dropped returns the paths of entries prev records that cur does not (by
// key and SHA-256).
func dropped(prev, cur *manifest.Manifest) []string {
	has := make(map[[2]string]bool, len(cur.Entries))
	for _, e := range cur.Entries {
		has[[2]string{e.Key, e.SHA256}] = true
	}
	var lost []string
	for _, e := range prev.Entries {
		if !has[[2]string{e.Key, e.SHA256}] {
			lost = append(lost, e.Path)
		}
	}
	return lost
}

// offChain reports manifests the latest one does not lead back to (a fork:
// two writers at once) and sequence numbers claimed without a manifest (a
// run that died while committing, or a deleted manifest). A sync that
// commits while verify runs is not a finding: manifests after the one
// verified, and claims younger than manifest.ClaimTimeout after it, are
// left alone.
func offChain(ctx context.Context, s store.Reader, latestSeq int64, onChain map[string]bool, now time.Time) ([]Finding, error) {
	var findings []Finding
	keys, err := manifest.List(ctx, s)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if seq, ok := manifest.SeqOf(k); ok && seq > latestSeq {
			continue // committed after the listing verify started from
		}
		if !onChain[k] {
			findings = append(findings, Finding{Severity: "warning", Kind: KindManifest, Key: k,
				Detail: "a manifest the latest one does not lead back to: two archivers wrote to this destination at once"})
		}
	}
	claims, err := manifest.ClaimsFor(ctx, s, keys, 1)
	if err != nil {
		return nil, err
	}
	for _, c := range claims {
		if c.Manifest != "" || c.Seq > latestSeq && now.Sub(c.Claimed) < manifest.ClaimTimeout {
			continue // committed, or a sync committing right now
		}
		detail := fmt.Sprintf("sequence number %d was claimed by run %s at %s but has no manifest: the run died while committing (its uploads are adopted later)",
			c.Seq, c.RunID, c.Claimed.UTC().Format(time.RFC3339))
		if c.Seq > latestSeq {
			detail += fmt.Sprintf(", or the newest manifest was deleted; the next sync skips the number once the claim is %s old", manifest.ClaimTimeout)
		}
		findings = append(findings, Finding{Severity: "warning", Kind: KindManifest, Key: c.Key, Detail: detail})
	}
	return findings, nil
}
