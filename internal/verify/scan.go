package verify

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/xroad-archiver/archiver/internal/manifest"
	"github.com/xroad-archiver/archiver/internal/store"
	"github.com/xroad-archiver/archiver/internal/xroad"
)

// scan is one pass over the state (path order, one checkpoint leaf at a
// time) merged with the destination's listing (key order): it finds what
// is missing, has another size or is recorded nowhere, and hands the
// objects to re-read to the checkers as it meets them.
//
// A key is its path plus a suffix (".zst", "~<sha>"), so it sorts at or
// after its path: when the merge is at path p, every listed key before p
// belongs to an entry already seen, or to none. An entry whose key sorts
// before the listing's position (another layout) is looked up with one
// HEAD instead: the outcome never depends on the layout, only the cost.
type scan struct {
	o    *Options
	rep  *Report
	work chan pend

	mu   sync.Mutex // guards rep and arch, shared with the checkers
	arch *archiveSet

	budget     int64
	pending    map[string][]pend // by key: entries the listing has not reached
	last       string            // the greatest listed key handled
	unrecorded []string
	fellBack   map[string]bool // keys looked up with HEAD
}

// pend is an entry of the state and its place in the stream.
type pend struct {
	e   manifest.Entry
	ord int64
}

// scan runs the merge and the checkers, and returns the archives for
// continuity. Memory holds the entries whose keys the listing has not
// reached (a few), the objects in flight, and a bounded batch of archive
// records (spilled to TempDir beyond that).
func (o *Options) scan(ctx context.Context, st *manifest.State, rep *Report) (*archiveSet, error) {
	if o.Progress != nil {
		files, bytes, err := o.totals(ctx, st)
		if err != nil {
			return nil, err
		}
		o.Progress.Start(files, bytes)
		defer o.Progress.Finish()
	}
	sc := &scan{o: o, rep: rep, work: make(chan pend, o.Concurrency), arch: newArchives(o.TempDir),
		pending: map[string][]pend{}, fellBack: map[string]bool{}}
	g, gctx := errgroup.WithContext(ctx)
	objs := make(chan store.Object, 1000)
	g.Go(func() error {
		defer close(objs)
		return o.Store.List(gctx, "", func(obj store.Object) error {
			select {
			case objs <- obj:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	for range o.Concurrency {
		g.Go(func() error { return sc.checker(gctx) })
	}
	g.Go(func() error {
		defer close(sc.work)
		return sc.merge(gctx, st, objs)
	})
	if err := g.Wait(); err != nil {
		sc.arch.close()
		return nil, err
	}
	sc.report()
	return sc.arch, nil
}

// totals counts what a full pass would re-read, for the progress bar (a
// first pass over the state; presence is not known yet).
func (o *Options) totals(ctx context.Context, st *manifest.State) (int, int64, error) {
	files, bytes, budget := 0, int64(0), int64(0)
	err := st.Each(ctx, func(e manifest.Entry) error {
		if o.selected(e) && (o.MaxBytes <= 0 || budget+e.StoredSize <= o.MaxBytes) {
			budget += e.StoredSize
			files++
			bytes += e.Size
		}
		return nil
	})
	return files, bytes, err
}

// merge walks the state and the listing together.
func (sc *scan) merge(ctx context.Context, st *manifest.State, objs <-chan store.Object) error {
	cur, have := store.Object{}, true
	next := func() error {
		select {
		case cur, have = <-objs:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := next(); err != nil {
		return err
	}
	// advance handles the listed keys before upTo ("": all of them).
	advance := func(upTo string) error {
		for have && (upTo == "" || cur.Key < upTo) {
			if err := sc.listed(ctx, cur); err != nil {
				return err
			}
			if err := next(); err != nil {
				return err
			}
		}
		return nil
	}
	var ord int64
	err := st.Each(ctx, func(e manifest.Entry) error {
		ord++
		sc.mu.Lock()
		sc.rep.Entries++
		sc.mu.Unlock()
		if err := advance(e.Path); err != nil {
			return err
		}
		return sc.expect(ctx, pend{e: e, ord: ord})
	})
	if err == nil {
		err = advance("")
	}
	if err != nil {
		return err
	}
	return sc.unlisted(ctx)
}

// expect waits for e's key in the listing, or looks it up when the
// listing is past it.
func (sc *scan) expect(ctx context.Context, p pend) error {
	switch {
	case strings.HasPrefix(p.e.Key, ".archiver/"):
		return sc.resolve(ctx, p, 0, false) // never an archived object
	case p.e.Key > sc.last:
		sc.pending[p.e.Key] = append(sc.pending[p.e.Key], p)
		return nil
	}
	obj, err := sc.o.Store.Head(ctx, p.e.Key)
	if errors.Is(err, store.ErrNotFound) {
		return sc.resolve(ctx, p, 0, false)
	}
	if err != nil {
		return err
	}
	sc.fellBack[p.e.Key] = true
	return sc.resolve(ctx, p, obj.Size, true)
}

// listed handles one listed object: the entries waiting for it, or an
// object no manifest records.
func (sc *scan) listed(ctx context.Context, obj store.Object) error {
	sc.last = obj.Key
	if strings.HasPrefix(obj.Key, ".archiver/") {
		return nil
	}
	ps, ok := sc.pending[obj.Key]
	if !ok {
		if sc.o.AsOf == "" {
			sc.unrecorded = append(sc.unrecorded, obj.Key)
		}
		return nil
	}
	delete(sc.pending, obj.Key)
	for _, p := range ps {
		if err := sc.resolve(ctx, p, obj.Size, true); err != nil {
			return err
		}
	}
	return nil
}

// unlisted resolves the entries whose keys the listing never reached.
func (sc *scan) unlisted(ctx context.Context) error {
	keys := make([]string, 0, len(sc.pending))
	for k := range sc.pending {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, p := range sc.pending[k] {
			if err := sc.resolve(ctx, p, 0, false); err != nil {
				return err
			}
		}
		delete(sc.pending, k)
	}
	return nil
}

// resolve records whether an entry's object is there with its size, and
// hands it to the checkers when the sample and the budget select it.
func (sc *scan) resolve(ctx context.Context, p pend, size int64, present bool) error {
	e, o := p.e, sc.o
	sc.mu.Lock()
	reread := false
	switch {
	case !present:
		sc.rep.add("error", KindMissing, e, "recorded in the manifest but not in the destination")
	case size != e.StoredSize:
		// Still re-read it: the content checks say what changed.
		sc.rep.add("error", KindSize, e, fmt.Sprintf("holds %d bytes, the manifest records %d", size, e.StoredSize))
		fallthrough
	default:
		sc.rep.Present++
		if !o.selected(e) || (o.MaxBytes > 0 && sc.budget+e.StoredSize > o.MaxBytes) {
			sc.rep.NotReread++
		} else {
			sc.budget += e.StoredSize
			reread = true
		}
	}
	var err error
	if !reread {
		err = sc.arch.add(e, p.ord, present, nil)
	}
	sc.mu.Unlock()
	if err != nil || !reread {
		return err
	}
	select {
	case sc.work <- p:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checker re-reads the objects handed to it until the merge is done.
func (sc *scan) checker(ctx context.Context) error {
	for p := range sc.work {
		e := p.e
		findings, link, err := sc.o.check(ctx, e)
		if err != nil {
			return err // the destination, not the object: stop
		}
		sc.mu.Lock()
		rep := sc.rep
		rep.Reread.Files++
		rep.Reread.Bytes += e.Size
		rep.Findings = append(rep.Findings, findings...)
		if link != nil {
			rep.Archives++
		}
		if e.Kind == xroad.KindEncryptedArchive.String() {
			rep.Encrypted++
			switch {
			case sc.o.Keys == nil:
				rep.IntegrityOnly++
			case link != nil:
				rep.Decrypted++
			}
		}
		err = sc.arch.add(e, p.ord, true, link)
		sc.mu.Unlock()
		if err != nil {
			return err
		}
		if sc.o.Progress != nil {
			sc.o.Progress.Done(e.Size)
		}
	}
	return nil
}

// report adds the objects no manifest records (warnings) and orders the
// findings by key.
func (sc *scan) report() {
	rep := sc.rep
	for _, k := range sc.unrecorded {
		if !sc.fellBack[k] {
			rep.Findings = append(rep.Findings, Finding{Severity: "warning", Kind: KindUnrecorded, Key: k,
				Detail: "present but recorded in no manifest (an interrupted run's upload is adopted by the next sync)"})
		}
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool { return rep.Findings[i].Key < rep.Findings[j].Key })
}
