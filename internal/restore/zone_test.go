package restore

import (
	"testing"
	"time"

	"github.com/xroad-archiver/archiver/internal/manifest"
)

// TestSelectInServerZone: X and Y are written in the JVM's zone; a server
// in Europe/Tallinn (UTC+2 in November) that archived records from 00:00
// to 00:30 UTC names the archive 020000-023000.
func TestSelectInServerZone(t *testing.T) {
	tallinn, err := time.LoadLocation("Europe/Tallinn")
	if err != nil {
		t.Fatal(err)
	}
	e := manifest.Entry{Path: "mlog-20261120020000-20261120023000-0123456789abcdef.zip"}
	at := func(h, m int) time.Time { return time.Date(2026, 11, 20, h, m, 0, 0, time.UTC) }
	tests := []struct {
		name         string
		zone         *time.Location
		since, until time.Time
		want         bool
	}{
		{"until just after its records, server zone", tallinn, time.Time{}, at(0, 10), true},
		{"until just after its records, read as UTC", nil, time.Time{}, at(0, 10), false},
		{"since just before its end, server zone", tallinn, at(0, 20), time.Time{}, true},
		{"since after its end, server zone", tallinn, at(0, 31), time.Time{}, false},
		{"since after its end, read as UTC", nil, at(0, 31), time.Time{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SelectIn([]manifest.Entry{e}, nil, tc.since, tc.until, tc.zone)
			if err != nil {
				t.Fatal(err)
			}
			if (len(got) == 1) != tc.want {
				t.Errorf("selected = %v, want %v", len(got) == 1, tc.want)
			}
		})
	}
}
