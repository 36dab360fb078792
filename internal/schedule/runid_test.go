package schedule

import (
	"regexp"
	"testing"
	"time"
)

func TestNewRunIDSortsByTimeAndDiffers(t *testing.T) {
	at := time.Date(2026, 11, 30, 2, 15, 0, 0, time.FixedZone("EET", 2*3600))
	a, b := NewRunID(at), NewRunID(at)
	if !regexp.MustCompile(`^20261130T001500Z-[0-9a-f]{6}$`).MatchString(a) {
		t.Errorf("NewRunID = %q, want 20261130T001500Z- and 6 random hex digits (UTC)", a)
	}
	if a == b {
		t.Errorf("two run ids of the same second are equal: %q", a)
	}
	if later := NewRunID(at.Add(time.Second)); later <= a {
		t.Errorf("%q does not sort after %q", later, a)
	}
}

func TestRunIDOr(t *testing.T) {
	at := time.Date(2026, 11, 30, 2, 15, 0, 0, time.UTC)
	if got := RunIDOr("20261129T000000Z-abcdef", at); got != "20261129T000000Z-abcdef" {
		t.Errorf("RunIDOr(given) = %q, want it unchanged", got)
	}
	if got := RunIDOr("", at); !regexp.MustCompile(`^20261130T021500Z-[0-9a-f]{6}$`).MatchString(got) {
		t.Errorf("RunIDOr(\"\") = %q, want a fresh run id of now", got)
	}
}
