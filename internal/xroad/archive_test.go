package xroad

import (
	"testing"
	"time"
)

func TestCheckContinuity(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	a := Link{Name: "A", First: at(1), Known: true, LastDigest: "aa11"}
	b := Link{Name: "B", First: at(2), Known: true, PrevArchive: "A", PrevDigest: "aa11", LastDigest: "bb22"}
	c := Link{Name: "C", First: at(3), Known: true, PrevArchive: "B", PrevDigest: "bb22", LastDigest: "cc33"}
	encB := Link{Name: "B", First: at(2), LastDigest: "bb"} // encrypted: only Z known
	midA := Link{Name: "A", First: at(1), Known: true, PrevArchive: "P", PrevDigest: "ff00", LastDigest: "aa11"}
	restart := Link{Name: "R", First: at(4), Known: true, LastDigest: "dd44"}
	earliest := func(l Link) bool { return Earliest([]Link{a, b, c, restart})[l.Group] == l.Name }
	tests := []struct {
		name   string
		links  []Link
		mid    func(Link) bool
		before []string
		starts []string // kind:archive
	}{
		{"complete", []Link{a, b, c}, nil, nil, []string{"first:A"}},
		{"through encrypted", []Link{a, encB, c}, nil, nil, []string{"first:A"}},
		{"missing middle", []Link{a, c}, nil, []string{"C"}, []string{"first:A"}},
		{"wrong digest", []Link{a, b, {Name: "C", First: at(3), Known: true, PrevArchive: "B", PrevDigest: "ff00"}}, nil, []string{"C"}, []string{"first:A"}},
		{"restart after a database reset", []Link{a, b, restart}, nil, nil, []string{"first:A", "restart:R"}},
		{"fork", []Link{a, b, {Name: "B2", First: at(2), Known: true, PrevArchive: "A", PrevDigest: "aa11"}}, nil, []string{"B2"}, []string{"first:A"}},
		{"other group", []Link{a, {Name: "X", Group: "g", Known: true, PrevArchive: "A", PrevDigest: "aa11"}}, nil, []string{"X"}, []string{"first:A"}},
		{"mid-history start", []Link{midA, b, c}, earliest, nil, []string{"mid-history:A"}},
		{"mid-history start not accepted", []Link{midA, b, c}, nil, []string{"A"}, nil},
		{"gap after a mid-history start", []Link{midA, c}, earliest, []string{"C"}, []string{"mid-history:A"}},
		{"mid-history then restart", []Link{midA, b, restart}, earliest, nil, []string{"mid-history:A", "restart:R"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckContinuity(tc.links, tc.mid)
			var before, starts []string
			for _, b := range got.Breaks {
				before = append(before, b.Before)
			}
			for _, s := range got.Starts {
				starts = append(starts, s.Kind+":"+s.Archive)
			}
			if !equal(before, tc.before) || !equal(starts, tc.starts) {
				t.Fatalf("breaks = %v, starts = %v; want breaks before %v, starts %v", got.Breaks, starts, tc.before, tc.starts)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
