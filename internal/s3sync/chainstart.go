package s3sync

import (
	"path"
	"sort"
	"time"

	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/xroad"
)

// chainStarts returns known plus a record for every group whose earliest
// archived archive (by the X field of its name) names, in linkinginfo line
// 1, a predecessor that was never archived here and is not on the volume
// either: the group's history here starts mid-chain (the older archives
// left the server before archiver was installed). A predecessor still on
// the volume is not a start: it is shipped by this or the next run. Only
// the earliest archive can start a chain this way; a later one whose
// predecessor is absent is a gap, and verify reports it.
func chainStarts(known []manifest.ChainStart, entries []manifest.Entry, local []File, runID string, now time.Time) []manifest.ChainStart {
	archived := map[string]bool{}
	latest := map[string]manifest.Entry{}
	for _, e := range entries {
		if e.Kind != xroad.KindArchive.String() && e.Kind != xroad.KindEncryptedArchive.String() {
			continue
		}
		archived[path.Base(e.Path)] = true
		latest[path.Base(e.Path)] = e
	}
	onVolume := map[string]bool{}
	for _, f := range local {
		onVolume[path.Base(f.Rel)] = true
	}
	recorded := map[string]bool{}
	for _, c := range known {
		recorded[c.Archive] = true
	}
	var links []xroad.Link
	for name, e := range latest {
		an, err := xroad.ParseArchiveName(name)
		if err != nil {
			continue
		}
		l := xroad.Link{Name: name, Group: an.Group, First: an.First}
		if c := e.Chain; c != nil {
			l.PrevArchive, l.PrevDigest, l.Known = c.PrevArchive, c.PrevDigest, true
		}
		links = append(links, l)
	}
	byName := map[string]xroad.Link{}
	for _, l := range links {
		byName[l.Name] = l
	}
	out := append([]manifest.ChainStart(nil), known...)
	for group, name := range xroad.Earliest(links) {
		l := byName[name]
		if !l.Known || l.PrevArchive == "" || archived[l.PrevArchive] || onVolume[l.PrevArchive] || recorded[name] {
			continue
		}
		out = append(out, manifest.ChainStart{Group: group, Archive: name, PrevArchive: l.PrevArchive, PrevDigest: l.PrevDigest, RunID: runID, Recorded: now.UTC()})
	}
	return out
}

// earliestOf returns the entry of each group's earliest archive (by the X
// field of its name; the newest version of that name) among entries: what
// a format 2 manifest carries so the next run finds chain starts without
// reading the history.
func earliestOf(entries []manifest.Entry) []manifest.Entry {
	latest := map[string]manifest.Entry{}
	var links []xroad.Link
	for _, e := range entries {
		if e.Kind != xroad.KindArchive.String() && e.Kind != xroad.KindEncryptedArchive.String() {
			continue
		}
		name := path.Base(e.Path)
		if _, seen := latest[name]; !seen {
			an, err := xroad.ParseArchiveName(name)
			if err != nil {
				continue
			}
			links = append(links, xroad.Link{Name: name, Group: an.Group, First: an.First})
		}
		latest[name] = e
	}
	var out []manifest.Entry
	for _, name := range xroad.Earliest(links) {
		out = append(out, latest[name])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
