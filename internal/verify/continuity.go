package verify

import (
	"cmp"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/xroad-archiver/archiver/internal/extsort"
	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/xroad"
)

// Continuity streams: instead of maps of every archive by name, it sorts
// compact records through spill files (extsort) three times:
//
//  1. by archive name, keeping each name's newest version (what the
//     state records as that archive);
//  2. by the name each archive's line 1 points at, after the archive of
//     that name: a merge join that tells every archive whether its
//     predecessor is here, archived but missing, or never archived, and
//     which archives follow the same predecessor (a fork);
//  3. by X time and name, the order X-Road wrote them in: where each
//     group's chains begin, and every break.
//
// What stays in memory is one run of each sort, a few values per group
// (earliest archive, whether a chain started) and the chain starts the
// manifests record.

// archiveRec is what continuity needs of one archive. Links are read from
// content where re-read, from the manifest otherwise.
type archiveRec struct {
	Ord        int64     `json:"o"`
	Name       string    `json:"n"`
	Key        string    `json:"k,omitempty"` // "" when it is Path
	Path       string    `json:"p,omitempty"` // "" when it is Name
	Parsed     bool      `json:"ok,omitempty"`
	ParseErr   string    `json:"e,omitempty"`
	Group      string    `json:"g,omitempty"`
	First      time.Time `json:"x"`
	Prev       string    `json:"pa,omitempty"`
	PrevDigest string    `json:"pd,omitempty"`
	LastDigest string    `json:"ld,omitempty"`
	Known      bool      `json:"kn,omitempty"`
	Present    bool      `json:"pr,omitempty"`
	HasChain   bool      `json:"hc,omitempty"` // the manifest records its chain
	ChainPrev  string    `json:"cp,omitempty"` // the predecessor the manifest records
	// Set by the join (pass 2): what is known of Prev.
	PrevIs        int    `json:"pi,omitempty"`
	PrevGroup     string `json:"pg,omitempty"`
	PrevLast      string `json:"pl,omitempty"`
	PrevKnown     bool   `json:"pk,omitempty"`
	PrevChainPrev string `json:"pc,omitempty"`
	Fork          string `json:"f,omitempty"` // an earlier archive that follows Prev too
}

// What an archive's predecessor is.
const (
	prevAbsent   = iota // never archived here
	prevPresent         // here, a link of the chain
	prevGone            // archived here, missing from the destination
	prevArchived        // archived here under a name that does not parse
)

// spillLimit is how many records each sort keeps in memory (about 4 MB
// of them; two sorts fill at once); tests lower it to make every pass
// spill.
var spillLimit = 8192

// archiveSet collects the records of the scan (by name).
type archiveSet struct {
	dir    string
	byName *extsort.Sorter[archiveRec]
}

func newArchives(dir string) *archiveSet {
	return &archiveSet{dir: dir, byName: extsort.New[archiveRec](dir, spillLimit)}
}

func (a *archiveSet) close() { a.byName.Close() }

// add records entry e (ord-th of the state) if it is an archive; content
// is the link read from its content (nil: the manifest's record).
func (a *archiveSet) add(e manifest.Entry, ord int64, present bool, content *xroad.Link) error {
	if e.Kind != xroad.KindArchive.String() && e.Kind != xroad.KindEncryptedArchive.String() {
		return nil
	}
	r := archiveRec{Ord: ord, Name: path.Base(e.Path), Key: e.Key, Path: e.Path, Present: present, HasChain: e.Chain != nil}
	if e.Chain != nil {
		r.ChainPrev = e.Chain.PrevArchive
	}
	an, err := xroad.ParseArchiveName(r.Name)
	if err != nil {
		r.ParseErr = err.Error()
	} else {
		r.Parsed, r.Group, r.First, r.LastDigest = true, an.Group, an.First, an.Digest
		if c := e.Chain; c != nil {
			r.Prev, r.PrevDigest, r.LastDigest, r.Known = c.PrevArchive, c.PrevDigest, c.LastDigest, true
		}
		if l := content; l != nil {
			r.Prev, r.PrevDigest, r.LastDigest, r.Known = l.PrevArchive, l.PrevDigest, l.LastDigest, l.Known
		}
	}
	if r.Key == r.Path {
		r.Key = "" // what is spilled stays small: most keys are their path,
	}
	if r.Path == r.Name {
		r.Path = "" // and most paths are their archive's name
	}
	return a.byName.Add(fmt.Sprintf("%s\x00%019d", r.Name, ord), r)
}

// xOrder sorts by X time, then name (CheckContinuity's order).
func xOrder(r archiveRec) string {
	return r.First.UTC().Format("20060102150405.000000000") + "\x00" + r.Name
}

// chainCheck is continuity's state across the passes.
type chainCheck struct {
	o        *Options
	rep      *Report
	head     *manifest.Manifest
	join     *extsort.Sorter[archiveRec]
	ordered  *extsort.Sorter[archiveRec]
	earliest map[string]archiveRec // by group, over every archive recorded
	groups   map[string]bool       // groups with an archive present
	recorded map[string]manifest.ChainStart
	started  map[string]bool
}

// continuity checks each group's chain over the archives present. A
// group's earliest archived archive whose predecessor was never archived
// here starts its chain mid-history (recorded by sync when it first saw
// it, or, for manifests from before that record and for encrypted
// archives whose chain sync could not read, inferred by the same rule);
// every other absent predecessor is a break.
func (o *Options) continuity(st *manifest.State, a *archiveSet, rep *Report) error {
	c := &chainCheck{o: o, rep: rep, head: st.Head,
		join: extsort.New[archiveRec](a.dir, spillLimit), ordered: extsort.New[archiveRec](a.dir, spillLimit),
		earliest: map[string]archiveRec{}, groups: map[string]bool{}, recorded: map[string]manifest.ChainStart{}, started: map[string]bool{}}
	defer c.join.Close()
	defer c.ordered.Close()
	for _, s := range st.ChainStarts() {
		c.recorded[s.Archive] = s
	}
	if err := c.newest(a); err != nil {
		return err
	}
	rep.Groups = len(c.groups)
	if err := c.joinPrev(); err != nil {
		return err
	}
	if err := c.ordered.Each(func(_ string, r archiveRec) error { c.link(r); return nil }); err != nil {
		return err
	}
	sort.Slice(rep.Chains, func(i, j int) bool {
		if rep.Chains[i].Group != rep.Chains[j].Group {
			return rep.Chains[i].Group < rep.Chains[j].Group
		}
		return rep.Chains[i].Archive < rep.Chains[j].Archive
	})
	return nil
}

// newest is pass 1: each archive name's newest version, fed to the join.
func (c *chainCheck) newest(a *archiveSet) error {
	var last *archiveRec
	err := a.byName.Each(func(_ string, r archiveRec) error {
		if last != nil && last.Name != r.Name {
			if err := c.archive(*last); err != nil {
				return err
			}
		}
		last = &r
		return nil
	})
	if err == nil && last != nil {
		err = c.archive(*last)
	}
	return err
}

// archive takes one archive (its newest version) into the join: as the
// predecessor others may name, and, when it is a link of a chain, as the
// archive that names its own.
func (c *chainCheck) archive(r archiveRec) error {
	if !r.Parsed {
		p := cmp.Or(r.Path, r.Name)
		c.rep.add("error", KindEvidence, manifest.Entry{Key: cmp.Or(r.Key, p), Path: p}, r.ParseErr)
		return c.join.Add(r.Name+"\x00A", r)
	}
	if e, ok := c.earliest[r.Group]; !ok || r.First.Before(e.First) || r.First.Equal(e.First) && r.Name < e.Name {
		c.earliest[r.Group] = r
	}
	if r.Present {
		c.groups[r.Group] = true
	}
	if err := c.join.Add(r.Name+"\x00A", r); err != nil {
		return err
	}
	switch {
	case !r.Present || !r.Known:
		return nil // a predecessor only; nothing to check of its line 1
	case r.Prev == "":
		return c.ordered.Add(xOrder(r), r)
	}
	return c.join.Add(r.Prev+"\x00B"+xOrder(r), r)
}

// joinPrev is pass 2: every archive meets its predecessor (sorted just
// before the archives that name it) and the others that name it too.
func (c *chainCheck) joinPrev() error {
	var target *archiveRec // the archive of the current name, if any
	succ := ""             // the last present-linked archive that follows it
	return c.join.Each(func(k string, r archiveRec) error {
		name, kind, _ := strings.Cut(k, "\x00")
		if kind == "A" {
			target, succ = &r, ""
			return nil
		}
		switch {
		case target == nil || target.Name != name:
			r.PrevIs = prevAbsent
		case target.Parsed && target.Present:
			r.PrevIs, r.PrevGroup, r.PrevLast, r.PrevKnown = prevPresent, target.Group, target.LastDigest, target.Known
			r.Fork, succ = succ, r.Name
		case target.Parsed:
			r.PrevIs, r.PrevChainPrev = prevGone, target.ChainPrev
		default:
			r.PrevIs = prevArchived
		}
		return c.ordered.Add(xOrder(r), r)
	})
}

// link is pass 3, CheckContinuity's loop for one archive (in X order).
func (c *chainCheck) link(r archiveRec) {
	if r.Prev == "" {
		kind := xroad.StartFirst
		if c.started[r.Group] {
			kind = xroad.StartRestart
		}
		c.started[r.Group] = true
		c.start(xroad.Start{Group: r.Group, Archive: r.Name, Kind: kind})
		return
	}
	if r.PrevIs != prevPresent {
		if c.midHistory(r) {
			c.started[r.Group] = true
			c.start(xroad.Start{Group: r.Group, Archive: r.Name, Kind: xroad.StartMidHistory, PrevArchive: r.Prev, PrevDigest: r.PrevDigest})
		} else {
			c.missingPrev(r)
		}
		return
	}
	brk := func(reason string) {
		b := xroad.Break{Group: r.Group, After: r.Prev, Before: r.Name, Reason: reason}
		c.rep.Findings = append(c.rep.Findings, Finding{Severity: "error", Kind: KindChain, Path: b.Before, Detail: b.String()})
	}
	switch {
	case r.PrevGroup != r.Group:
		brk("previous archive belongs to group " + fmt.Sprintf("%q", r.PrevGroup))
	case !strings.HasPrefix(r.PrevDigest, r.PrevLast) && !strings.HasPrefix(r.PrevLast, r.PrevDigest),
		r.PrevKnown && r.PrevLast != r.PrevDigest:
		brk("line 1 digest does not match the previous archive's last digest")
	}
	if r.Fork != "" {
		brk("chain forks: " + fmt.Sprintf("%q", r.Fork) + " also follows it")
	}
}

func (c *chainCheck) start(st xroad.Start) {
	cs := ChainStart{Start: st}
	if s, ok := c.recorded[st.Archive]; ok && st.Kind == xroad.StartMidHistory {
		cs.RecordedBy = s.RunID
	}
	c.rep.Chains = append(c.rep.Chains, cs)
}

// midHistory says whether r, whose predecessor is not here, is where its
// group's history here begins.
func (c *chainCheck) midHistory(r archiveRec) bool {
	if r.PrevIs != prevAbsent {
		return false // it was archived here: its absence is a loss
	}
	if s, ok := c.recorded[r.Name]; ok {
		return s.PrevArchive == r.Prev && s.PrevDigest == r.PrevDigest
	}
	if c.head.StartsRecorded && r.HasChain {
		return false // sync saw this archive's chain and recorded no start
	}
	// A manifest from before the record, or an archive whose chain sync
	// could not read (encrypted): the same rule, inferred.
	return c.earliest[r.Group].Name == r.Name
}

// missingPrev reports the break before r, whose predecessor is not here.
func (c *chainCheck) missingPrev(r archiveRec) {
	var detail string
	if r.PrevIs == prevGone {
		before := "the start of the chain"
		if r.PrevChainPrev != "" {
			before = fmt.Sprintf("%q", r.PrevChainPrev)
		}
		detail = fmt.Sprintf("group %q: evidence chain broken between %s and %q: archive %q is recorded in the manifest but missing from the destination",
			r.Group, before, r.Name, r.Prev)
	} else {
		detail = fmt.Sprintf("group %q: evidence chain broken before %q: its predecessor %q was never archived here, and %q is not where the group's history here begins (a gap in what was shipped)",
			r.Group, r.Name, r.Prev, r.Name)
	}
	c.rep.Findings = append(c.rep.Findings, Finding{Severity: "error", Kind: KindChain, Path: r.Name, Detail: detail})
}
