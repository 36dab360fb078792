package units

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"", time.Time{}, false},
		{"2026-11-20T03:15:00Z", time.Date(2026, 11, 20, 3, 15, 0, 0, time.UTC), false},
		{"2026-11-20T03:15:00+02:00", time.Date(2026, 11, 20, 1, 15, 0, 0, time.UTC), false},
		{"2026-11-20T03:15:00", time.Date(2026, 11, 20, 3, 15, 0, 0, time.UTC), false},
		{"2026-11-20", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), false},
		{"7d", now.Add(-7 * 24 * time.Hour), false},
		{"90m", now.Add(-90 * time.Minute), false},
		{"yesterday-ish", time.Time{}, true},
		{"2026-13-40", time.Time{}, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTime(tc.in, now)
			if (err != nil) != tc.wantErr || !got.Equal(tc.want) {
				t.Fatalf("got %v, %v; want %v (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestTimeFlag: a Time set from a flag holds what ParseTime returns and
// the text as written; a bad value is refused and leaves it unset.
func TestTimeFlag(t *testing.T) {
	var tm Time
	if err := tm.Set("2026-11-20"); err != nil || !tm.Value().Equal(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)) || tm.String() != "2026-11-20" {
		t.Fatalf("Set(2026-11-20): %v, %v %q", err, tm.Value(), tm.String())
	}
	week, before := 7*24*time.Hour, time.Now()
	if err := tm.Set("7d"); err != nil || tm.Value().Before(before.Add(-week)) || tm.Value().After(time.Now().Add(-week)) {
		t.Fatalf("Set(7d): %v, %v", err, tm.Value())
	}
	var bad Time
	if err := bad.Set("yesterday-ish"); err == nil || !bad.Value().IsZero() || bad.String() != "" || bad.Type() != "time" {
		t.Fatalf("Set(yesterday-ish): %v, %+v", err, bad)
	}
}
