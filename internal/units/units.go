// Package units parses the human sizes, durations and points in time
// operators write in flags and configuration: "16MiB", "2GB", "30d", "7y",
// "90m", "2026-11-20" (ParseTime); Size and Duration are values that
// parse themselves the same way from a flag, from YAML and from text, so a
// default or a configured value is never turned back into a string to be
// parsed again. It must not know what the values
// are for (defaults belong to the packages that use them).
package units

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1},
}

// ParseSize parses a byte size: a plain integer, or an integer or decimal
// with a unit (B, K/KiB, M/MiB, G/GiB, T/TiB binary; KB, MB, GB, TB decimal).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	for _, u := range sizeUnits {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || f < 0 || f*float64(u.mult) > 1<<62 {
				return 0, fmt.Errorf("size %q: want a number with a unit such as 16MiB", s)
			}
			return int64(f * float64(u.mult)), nil
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want bytes or a number with a unit such as 16MiB", s)
	}
	return n, nil
}

// maxDuration keeps durations far from time.Duration's ~292-year limit.
const maxDuration = 200 * 365 * 24 * time.Hour

// ParseDuration extends time.ParseDuration with whole days ("30d") and
// years of 365 days ("7y"), alone or followed by a Go duration ("1d12h").
// Durations above 200 years are refused.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	var total time.Duration
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"y", 365 * 24 * time.Hour}, {"d", 24 * time.Hour}} {
		if i := strings.Index(t, u.suffix); i > 0 {
			n, err := strconv.Atoi(t[:i])
			if err != nil || n < 0 || time.Duration(n) > maxDuration/u.d {
				return 0, fmt.Errorf("duration %q: want e.g. 30d, 7y, 36h or 90m (at most 200 years)", s)
			}
			total += time.Duration(n) * u.d
			t = t[i+1:]
		}
	}
	if t == "" {
		if total > maxDuration {
			return 0, fmt.Errorf("duration %q: at most 200 years", s)
		}
		return total, nil
	}
	d, err := time.ParseDuration(t)
	if err != nil || d < 0 || d > maxDuration || total+d > maxDuration {
		return 0, fmt.Errorf("duration %q: want e.g. 30d, 7y, 36h or 90m (at most 200 years)", s)
	}
	return total + d, nil
}
