package units

import (
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1024", 1024, true}, {"16MiB", 16 << 20, true}, {"16M", 16 << 20, true}, {"1.5GiB", 3 << 29, true},
		{"10MB", 10e6, true}, {"5 GiB", 5 << 30, true}, {"", 0, false}, {"-1", 0, false}, {"MiB", 0, false}, {"12XB", 0, false},
	} {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseDuration(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * day, true}, {"7y", 7 * 365 * day, true}, {"1d12h", 36 * time.Hour, true}, {"90m", 90 * time.Minute, true},
		{"2m", 2 * time.Minute, true}, {"0", 0, true}, {"", 0, true}, {"xd", 0, false}, {"-5m", 0, false}, {"1w", 0, false},
		// Found by make chaos: 1000 years overflowed time.Duration into a negative value.
		{"1000y", 0, false}, {"200y", 200 * 365 * day, true}, {"199y400d", 0, false}, {"100000000h", 0, false},
	} {
		got, err := ParseDuration(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	f.Add("1d12h")
	f.Add("7y")
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseDuration(s); err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v: negative", s, d)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	f.Add("16MiB")
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseSize(s); err == nil && n < 0 {
			t.Fatalf("ParseSize(%q) = %d: negative", s, n)
		}
	})
}
