package xroad

import "testing"

func TestCheckContinuity(t *testing.T) {
	a := Link{Name: "A", Known: true, LastDigest: "aa11"}
	b := Link{Name: "B", Known: true, PrevArchive: "A", PrevDigest: "aa11", LastDigest: "bb22"}
	c := Link{Name: "C", Known: true, PrevArchive: "B", PrevDigest: "bb22", LastDigest: "cc33"}
	encB := Link{Name: "B", LastDigest: "bb"} // encrypted: only Z known
	tests := []struct {
		name   string
		links  []Link
		before []string
	}{
		{"complete", []Link{a, b, c}, nil},
		{"through encrypted", []Link{a, encB, c}, nil},
		{"missing middle", []Link{a, c}, []string{"C"}},
		{"wrong digest", []Link{a, b, {Name: "C", Known: true, PrevArchive: "B", PrevDigest: "ff00"}}, []string{"C"}},
		{"two starts", []Link{a, {Name: "A2", Known: true}, b}, []string{"A2"}},
		{"fork", []Link{a, b, {Name: "B2", Known: true, PrevArchive: "A", PrevDigest: "aa11"}}, []string{"B2"}},
		{"other group", []Link{a, {Name: "X", Group: "g", Known: true, PrevArchive: "A", PrevDigest: "aa11"}}, []string{"X"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckContinuity(tc.links)
			var before []string
			for _, b := range got {
				before = append(before, b.Before)
			}
			if len(before) != len(tc.before) {
				t.Fatalf("breaks = %v, want before=%v", got, tc.before)
			}
			for i := range before {
				if before[i] != tc.before[i] {
					t.Fatalf("breaks = %v, want before=%v", got, tc.before)
				}
			}
		})
	}
}
