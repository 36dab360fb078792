package xroad

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Link is an archive's place in its group's chain, as far as it is known:
// plain archives (and encrypted ones that were decrypted) give their
// linkinginfo; other encrypted ones only their name.
type Link struct {
	Name        string
	Group       string
	First       time.Time // the name's X field (zero if it does not parse)
	PrevArchive string    // "" for the first archive, or unknown when !Known
	PrevDigest  string
	LastDigest  string // full digest when Known; the Z prefix otherwise ("" for 6.x names)
	Known       bool   // linkinginfo was read
}

// Break is a gap in a group's evidence chain.
type Break struct {
	Group  string
	After  string // archive the chain continues from ("" if none)
	Before string // archive whose line 1 does not connect
	Reason string
}

func (b Break) String() string {
	return fmt.Sprintf("group %q: chain broken between %q and %q: %s", b.Group, b.After, b.Before, b.Reason)
}

// Start kinds: how a chain held here begins.
const (
	// StartFirst is an archive whose line 1 is "- - ALG": the first
	// archive the server wrote in the group.
	StartFirst = "first"
	// StartRestart is a later "- - ALG" archive in a group that already
	// has a chain: the server's message-log database (its
	// LAST_ARCHIVE_DIGEST row) was reset, and X-Road began a new chain.
	StartRestart = "restart"
	// StartMidHistory is the earliest archive held here of a group whose
	// predecessor was never held here (moved off the server before
	// archiver was installed).
	StartMidHistory = "mid-history"
)

// Start is where one chain of a group begins.
type Start struct {
	Group       string `json:"group"`
	Archive     string `json:"archive"`
	Kind        string `json:"kind"`
	PrevArchive string `json:"prev_archive,omitempty"` // mid-history: the predecessor it names
	PrevDigest  string `json:"prev_digest,omitempty"`
}

// Continuity is the outcome of CheckContinuity.
type Continuity struct {
	Breaks []Break
	Starts []Start
}

// CheckContinuity checks that, within each group, every archive's line 1
// names an archive that exists and carries the previous last digest, and
// that no archive is named as the predecessor of two others. Encrypted
// archives that were not decrypted (Known false) can only be matched by
// name and Z prefix.
//
// An archive whose line 1 is "- - ALG" starts a chain: the earliest of its
// group (by X) is StartFirst, later ones StartRestart. An archive whose
// predecessor is absent is a StartMidHistory when midHistory says so (the
// caller knows whether the predecessor was ever held here, and whether the
// archive is where its history here begins), and a Break otherwise.
func CheckContinuity(links []Link, midHistory func(Link) bool) Continuity {
	sorted := append([]Link(nil), links...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].First.Equal(sorted[j].First) {
			return sorted[i].First.Before(sorted[j].First)
		}
		return sorted[i].Name < sorted[j].Name
	})
	byName := map[string]Link{}
	for _, l := range sorted {
		byName[l.Name] = l
	}
	var c Continuity
	started := map[string]bool{}
	successor := map[string]string{}
	for _, l := range sorted {
		if !l.Known {
			continue
		}
		if l.PrevArchive == "" {
			kind := StartFirst
			if started[l.Group] {
				kind = StartRestart
			}
			started[l.Group] = true
			c.Starts = append(c.Starts, Start{Group: l.Group, Archive: l.Name, Kind: kind})
			continue
		}
		prev, ok := byName[l.PrevArchive]
		switch {
		case !ok:
			if midHistory != nil && midHistory(l) {
				started[l.Group] = true
				c.Starts = append(c.Starts, Start{Group: l.Group, Archive: l.Name, Kind: StartMidHistory, PrevArchive: l.PrevArchive, PrevDigest: l.PrevDigest})
			} else {
				c.Breaks = append(c.Breaks, Break{Group: l.Group, After: l.PrevArchive, Before: l.Name, Reason: "previous archive is missing"})
			}
			continue
		case prev.Group != l.Group:
			c.Breaks = append(c.Breaks, Break{Group: l.Group, After: prev.Name, Before: l.Name, Reason: "previous archive belongs to group " + fmt.Sprintf("%q", prev.Group)})
		case !strings.HasPrefix(l.PrevDigest, prev.LastDigest) && !strings.HasPrefix(prev.LastDigest, l.PrevDigest):
			c.Breaks = append(c.Breaks, Break{Group: l.Group, After: prev.Name, Before: l.Name, Reason: "line 1 digest does not match the previous archive's last digest"})
		case prev.Known && prev.LastDigest != l.PrevDigest:
			c.Breaks = append(c.Breaks, Break{Group: l.Group, After: prev.Name, Before: l.Name, Reason: "line 1 digest does not match the previous archive's last digest"})
		}
		if other, dup := successor[l.PrevArchive]; dup {
			c.Breaks = append(c.Breaks, Break{Group: l.Group, After: l.PrevArchive, Before: l.Name, Reason: "chain forks: " + fmt.Sprintf("%q", other) + " also follows it"})
		}
		successor[l.PrevArchive] = l.Name
	}
	return c
}

// Earliest returns, per group, the name of the archive with the earliest X
// (ties: the smaller name): where a group's history held here begins.
func Earliest(links []Link) map[string]string {
	first := map[string]Link{}
	for _, l := range links {
		f, ok := first[l.Group]
		if !ok || l.First.Before(f.First) || l.First.Equal(f.First) && l.Name < f.Name {
			first[l.Group] = l
		}
	}
	out := make(map[string]string, len(first))
	for g, l := range first {
		out[g] = l.Name
	}
	return out
}

// LinkOf is the Link of a named archive whose linkinginfo is li.
func LinkOf(name string, li LinkingInfo) Link {
	an, _ := ParseArchiveName(name)
	return Link{Name: name, Group: an.Group, First: an.First, PrevArchive: li.PrevArchive, PrevDigest: li.PrevDigest, LastDigest: li.LastDigest(), Known: true}
}
