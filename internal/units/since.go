package units

import (
	"fmt"
	"time"
)

// ParseTime parses a point in time as operators write it: RFC 3339, a
// local date-time (2006-01-02T15:04:05, UTC), a date, or an age before
// now such as "7d" (ParseDuration). "" is the zero time.
func ParseTime(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	d, err := ParseDuration(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339, YYYY-MM-DD or an age such as 7d", v)
	}
	return now.Add(-d), nil
}

// Time is a point in time that parses itself from a flag (ParseTime; an
// age counts back from when it is set); the zero Time is unset.
type Time struct {
	t    time.Time
	text string
}

// Value is the time; the zero time when unset.
func (t Time) Value() time.Time { return t.t }

// String is the time as written.
func (t Time) String() string { return t.text }

// Set implements pflag.Value.
func (t *Time) Set(v string) error {
	x, err := ParseTime(v, time.Now())
	if err != nil {
		return err
	}
	*t = Time{t: x, text: v}
	return nil
}

// Type implements pflag.Value.
func (t *Time) Type() string { return "time" }
