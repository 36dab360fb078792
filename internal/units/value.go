package units

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Size is a byte count that parses itself, the same way, from a flag (it
// is a pflag.Value), from YAML and from text ("16MiB"). The zero Size is
// unset: IsSet tells it from an explicit "0".
//
// A YAML value that does not parse does not stop the decoder (so every
// problem of a file is listed at once): it is kept in the Size, and Err
// returns it for the validator to report with its field and line.
type Size struct {
	n    int64
	text string // as written; "" when unset
	err  error
}

// SizeOf is n as a set Size, written the human way (8388608 is "8MiB").
func SizeOf(n int64) Size { return Size{n: n, text: FormatSize(n)} }

// Bytes is the size; 0 when unset.
func (s Size) Bytes() int64 { return s.n }

// Or is the size, or def when unset.
func (s Size) Or(def int64) int64 {
	if !s.IsSet() {
		return def
	}
	return s.n
}

// IsSet reports whether a value was given.
func (s Size) IsSet() bool { return s.text != "" }

// Err is the parse error of a YAML value, nil when it parsed.
func (s Size) Err() error { return s.err }

// String is the size as written.
func (s Size) String() string { return s.text }

// Set implements pflag.Value: a bad value is refused with its error.
func (s *Size) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*s = Size{n: n, text: v}
	return nil
}

// Type implements pflag.Value.
func (s *Size) Type() string { return "size" }

// UnmarshalYAML implements yaml.Unmarshaler; it never fails (see Size).
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	*s = Size{}
	if n.Kind != yaml.ScalarNode {
		s.text, s.err = "?", fmt.Errorf("want a size such as 16MiB")
		return nil
	}
	if n.Value == "" {
		return nil
	}
	s.text = n.Value
	s.n, s.err = ParseSize(n.Value)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (s Size) MarshalYAML() (any, error) { return s.text, nil }

// Duration is a time.Duration that parses itself, the same way, from a
// flag, from YAML and from text ("30d", "7y", "90m"); the zero Duration is
// unset. A bad YAML value is kept for the validator, as with Size.
type Duration struct {
	d    time.Duration
	text string
	err  error
}

// DurationOf is d as a set Duration, written the human way (30d, 2m).
func DurationOf(d time.Duration) Duration { return Duration{d: d, text: FormatDuration(d)} }

// Value is the duration; 0 when unset.
func (d Duration) Value() time.Duration { return d.d }

// Or is the duration, or def when unset.
func (d Duration) Or(def time.Duration) time.Duration {
	if !d.IsSet() {
		return def
	}
	return d.d
}

// IsSet reports whether a value was given.
func (d Duration) IsSet() bool { return d.text != "" }

// Err is the parse error of a YAML value, nil when it parsed.
func (d Duration) Err() error { return d.err }

// String is the duration as written.
func (d Duration) String() string { return d.text }

// Set implements pflag.Value.
func (d *Duration) Set(v string) error {
	x, err := ParseDuration(v)
	if err != nil {
		return err
	}
	*d = Duration{d: x, text: v}
	return nil
}

// Type implements pflag.Value.
func (d *Duration) Type() string { return "duration" }

// UnmarshalYAML implements yaml.Unmarshaler; it never fails (see Size).
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	*d = Duration{}
	if n.Kind != yaml.ScalarNode {
		d.text, d.err = "?", fmt.Errorf("want a duration such as 30d, 36h or 90m")
		return nil
	}
	if n.Value == "" {
		return nil
	}
	d.text = n.Value
	d.d, d.err = ParseDuration(n.Value)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.text, nil }

// FormatSize writes n with the largest binary unit that divides it
// exactly (8MiB, 1536KiB, 100): ParseSize reads it back to n.
func FormatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return fmt.Sprint(n/u.mult) + u.suffix
		}
	}
	return fmt.Sprint(n)
}

// FormatDuration writes d in whole days when it is some (30d), else as Go
// does without trailing zero units (2m, 1h30m, 90s): ParseDuration reads
// it back to d.
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d != 0 && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
