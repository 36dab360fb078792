package units

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// written is a value as written and parsed: what Size and Duration
// share. The zero written is unset; a YAML value that does not parse is
// kept with its error (see Size).
type written[T any] struct {
	v    T
	text string // as written; "" when unset
	err  error
}

// IsSet reports whether a value was given.
func (w written[T]) IsSet() bool { return w.text != "" }

// Err is the parse error of a YAML value, nil when it parsed.
func (w written[T]) Err() error { return w.err }

// String is the value as written.
func (w written[T]) String() string { return w.text }

// MarshalYAML implements yaml.Marshaler.
func (w written[T]) MarshalYAML() (any, error) { return w.text, nil }

func (w written[T]) or(def T) T {
	if !w.IsSet() {
		return def
	}
	return w.v
}

// set is pflag.Value's Set: a bad value is refused with its error.
func (w *written[T]) set(v string, parse func(string) (T, error)) error {
	x, err := parse(v)
	if err != nil {
		return err
	}
	*w = written[T]{v: x, text: v}
	return nil
}

// unmarshal is yaml.Unmarshaler's UnmarshalYAML, which never fails: a
// value that is not a scalar is kept as "?" with an error that says what
// is wanted, an empty one leaves w unset.
func (w *written[T]) unmarshal(n *yaml.Node, parse func(string) (T, error), want string) {
	*w = written[T]{}
	if n.Kind != yaml.ScalarNode {
		w.text, w.err = "?", errors.New(want)
		return
	}
	if n.Value == "" {
		return
	}
	w.text = n.Value
	w.v, w.err = parse(n.Value)
}

// Size is a byte count that parses itself, the same way, from a flag (it
// is a pflag.Value), from YAML and from text ("16MiB"). The zero Size is
// unset: IsSet tells it from an explicit "0".
//
// A YAML value that does not parse does not stop the decoder (so every
// problem of a file is listed at once): it is kept in the Size, and Err
// returns it for the validator to report with its field and line.
type Size struct{ written[int64] }

// SizeOf is n as a set Size, written the human way (8388608 is "8MiB").
func SizeOf(n int64) Size { return Size{written[int64]{v: n, text: FormatSize(n)}} }

// Bytes is the size; 0 when unset.
func (s Size) Bytes() int64 { return s.v }

// Or is the size, or def when unset.
func (s Size) Or(def int64) int64 { return s.or(def) }

// Set implements pflag.Value: a bad value is refused with its error.
func (s *Size) Set(v string) error { return s.set(v, ParseSize) }

// Type implements pflag.Value.
func (s *Size) Type() string { return "size" }

// UnmarshalYAML implements yaml.Unmarshaler; it never fails (see Size).
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	s.unmarshal(n, ParseSize, "want a size such as 16MiB")
	return nil
}

// Duration is a time.Duration that parses itself, the same way, from a
// flag, from YAML and from text ("30d", "7y", "90m"); the zero Duration is
// unset. A bad YAML value is kept for the validator, as with Size.
type Duration struct{ written[time.Duration] }

// DurationOf is d as a set Duration, written the human way (30d, 2m).
func DurationOf(d time.Duration) Duration {
	return Duration{written[time.Duration]{v: d, text: FormatDuration(d)}}
}

// Value is the duration; 0 when unset.
func (d Duration) Value() time.Duration { return d.v }

// Or is the duration, or def when unset.
func (d Duration) Or(def time.Duration) time.Duration { return d.or(def) }

// Set implements pflag.Value.
func (d *Duration) Set(v string) error { return d.set(v, ParseDuration) }

// Type implements pflag.Value.
func (d *Duration) Type() string { return "duration" }

// UnmarshalYAML implements yaml.Unmarshaler; it never fails (see Size).
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	d.unmarshal(n, ParseDuration, "want a duration such as 30d, 36h or 90m")
	return nil
}

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
