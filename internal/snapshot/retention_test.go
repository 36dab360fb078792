package snapshot

import (
	"testing"
	"time"
	_ "time/tzdata"
)

// daily returns one item per day at 02:15 UTC for n days ending at end.
func daily(end time.Time, n int) []Item {
	var out []Item
	for i := 0; i < n; i++ {
		t := end.AddDate(0, 0, -i)
		out = append(out, Item{ID: t.Format("2006-01-02"), Time: t})
	}
	return out
}

func ids(items []Item) map[string]bool {
	m := map[string]bool{}
	for _, it := range items {
		m[it.ID] = true
	}
	return m
}

func TestApplyGFS(t *testing.T) {
	end := time.Date(2026, 11, 22, 2, 15, 0, 0, time.UTC) // a Sunday
	items := daily(end, 120)                              // four months of daily snapshots
	// A second snapshot on the newest day, earlier: only KeepLast can keep it.
	items = append(items, Item{ID: "2026-11-22-early", Time: end.Add(-time.Hour)})
	tests := []struct {
		name     string
		p        Policy
		keep     int
		mustKeep []string
		mustDrop []string
	}{
		{"zero policy keeps everything", Policy{}, 121, []string{"2026-07-26"}, nil},
		{"keep last 3", Policy{KeepLast: 3}, 3, []string{"2026-11-22", "2026-11-22-early", "2026-11-21"}, []string{"2026-11-20"}},
		{"7 daily", Policy{Daily: 7}, 7, []string{"2026-11-22", "2026-11-16"}, []string{"2026-11-22-early", "2026-11-15"}},
		// ISO weeks end on Sunday: the newest item of each week is its Sunday
		// (or the newest day of the current week).
		{"4 weekly", Policy{Weekly: 4}, 4, []string{"2026-11-22", "2026-11-15", "2026-11-08", "2026-11-01"}, []string{"2026-10-25"}},
		{"3 monthly", Policy{Monthly: 3}, 3, []string{"2026-11-22", "2026-10-31", "2026-09-30"}, []string{"2026-08-31"}},
		{"combined", Policy{KeepLast: 2, Daily: 7, Weekly: 4, Monthly: 12}, 2 + 6 + 3 + 4,
			[]string{"2026-11-22-early", "2026-11-16", "2026-11-08", "2026-10-31", "2026-07-31"}, []string{"2026-11-14", "2026-10-30", "2026-07-26"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keep, drop := Apply(items, tc.p, time.UTC)
			if len(keep)+len(drop) != len(items) {
				t.Fatalf("kept %d + dropped %d != %d", len(keep), len(drop), len(items))
			}
			if len(keep) != tc.keep {
				t.Errorf("kept %d, want %d", len(keep), tc.keep)
			}
			k, d := ids(keep), ids(drop)
			for _, id := range tc.mustKeep {
				if !k[id] {
					t.Errorf("%s dropped, want kept", id)
				}
			}
			for _, id := range tc.mustDrop {
				if !d[id] {
					t.Errorf("%s kept, want dropped", id)
				}
			}
		})
	}
}

func TestApplyUsesTheZone(t *testing.T) {
	// 23:30 UTC on the 1st is already the 2nd in Helsinki.
	a := Item{ID: "a", Time: time.Date(2026, 11, 1, 23, 30, 0, 0, time.UTC)}
	b := Item{ID: "b", Time: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	hel, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Fatal(err)
	}
	if keep, _ := Apply([]Item{a, b}, Policy{Daily: 2}, time.UTC); len(keep) != 1 {
		t.Errorf("UTC: kept %d, want 1 (same day)", len(keep))
	}
	if keep, _ := Apply([]Item{a, b}, Policy{Daily: 2}, hel); len(keep) != 2 {
		t.Errorf("Helsinki: kept %d, want 2 (different days)", len(keep))
	}
}
