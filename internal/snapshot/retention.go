package snapshot

import (
	"fmt"
	"sort"
	"time"
)

// Policy is a grandfather-father-son retention policy. An item is kept if
// any rule keeps it. The zero Policy keeps everything: nothing is deleted
// unless a policy says so.
type Policy struct {
	KeepLast int `json:"keep_last"` // the newest N
	Daily    int `json:"daily"`     // the newest item of each of the last N days that have one
	Weekly   int `json:"weekly"`    // ... of each of the last N ISO weeks
	Monthly  int `json:"monthly"`   // ... of each of the last N months
}

// IsZero reports whether the policy keeps everything.
func (p Policy) IsZero() bool { return p == Policy{} }

// Item is a snapshot or recovery point subject to retention.
type Item struct {
	ID   string
	Time time.Time
}

// Apply splits items into those to keep and those to delete. Buckets
// (days, weeks, months) are computed in loc.
func Apply(items []Item, p Policy, loc *time.Location) (keep, drop []Item) {
	sorted := append([]Item(nil), items...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.After(sorted[j].Time) })
	if p.IsZero() {
		return sorted, nil
	}
	kept := make([]bool, len(sorted))
	for i := range sorted {
		if i < p.KeepLast {
			kept[i] = true
		}
	}
	bucket := func(n int, key func(time.Time) string) {
		seen := map[string]bool{}
		for i, it := range sorted {
			if len(seen) >= n {
				return
			}
			k := key(it.Time.In(loc))
			if !seen[k] {
				seen[k] = true
				kept[i] = true
			}
		}
	}
	bucket(p.Daily, func(t time.Time) string { return t.Format("2006-01-02") })
	bucket(p.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-W%02d", y, w) })
	bucket(p.Monthly, func(t time.Time) string { return t.Format("2006-01") })
	for i, it := range sorted {
		if kept[i] {
			keep = append(keep, it)
		} else {
			drop = append(drop, it)
		}
	}
	return keep, drop
}
