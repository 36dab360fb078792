package units

import (
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
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

func TestValuesParseAlikeFromFlagsAndYAML(t *testing.T) {
	var doc struct {
		Part  Size     `yaml:"part"`
		Quiet Duration `yaml:"quiet"`
		Bad   Size     `yaml:"bad"`
		Unset Duration `yaml:"unset"`
		Empty Size     `yaml:"empty"`
	}
	if err := yaml.Unmarshal([]byte("part: 16MiB\nquiet: 1d12h\nbad: lots\nempty: \"\"\n"), &doc); err != nil {
		t.Fatalf("a bad value stopped the decoder: %v", err)
	}
	var flagPart Size
	var flagQuiet Duration
	if err := flagPart.Set("16MiB"); err != nil {
		t.Fatal(err)
	}
	if err := flagQuiet.Set("1d12h"); err != nil {
		t.Fatal(err)
	}
	if doc.Part != flagPart || doc.Part.Bytes() != 16<<20 || doc.Quiet != flagQuiet || doc.Quiet.Value() != 36*time.Hour {
		t.Errorf("yaml %+v %+v, flags %+v %+v", doc.Part, doc.Quiet, flagPart, flagQuiet)
	}
	if doc.Bad.Err() == nil || !doc.Bad.IsSet() {
		t.Errorf("bad size kept no error: %+v", doc.Bad)
	}
	if (&Size{}).Set("lots") == nil {
		t.Error("flag accepted a bad size")
	}
	if doc.Unset.IsSet() || doc.Empty.IsSet() || doc.Unset.Or(time.Minute) != time.Minute || doc.Empty.Or(7) != 7 {
		t.Errorf("unset values: %+v %+v", doc.Unset, doc.Empty)
	}
	var zero Duration
	if err := zero.Set("0"); err != nil || !zero.IsSet() || zero.Or(time.Hour) != 0 {
		t.Errorf("an explicit 0 is not set: %+v, %v", zero, err)
	}
}

func TestFormatReadsBack(t *testing.T) {
	for _, n := range []int64{0, 1, 8 << 20, 64 << 20, 1536 << 10, 5 << 30, 1000} {
		s := FormatSize(n)
		if got, err := ParseSize(s); err != nil || got != n {
			t.Errorf("FormatSize(%d) = %q reads back as %d, %v", n, s, got, err)
		}
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{2 * time.Minute, "2m"}, {2 * time.Hour, "2h"}, {30 * time.Minute, "30m"}, {30 * 24 * time.Hour, "30d"}, {90 * time.Second, "1m30s"}, {0, "0s"}} {
		s := FormatDuration(tc.d)
		if got, err := ParseDuration(s); s != tc.want || err != nil || got != tc.d {
			t.Errorf("FormatDuration(%v) = %q (want %q) reads back as %v, %v", tc.d, s, tc.want, got, err)
		}
	}
}
