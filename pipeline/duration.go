package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// String returns the canonical form of d, as time.Duration prints it
// ("30s", "1h0m0s"). Days are written as hours.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as its canonical string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON reads a duration string in the syntax ParseDuration accepts.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"30s\": %w", err)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Errors of ParseDuration, for callers that word their own messages.
var (
	errDurationNoUnit   = errors.New("a duration needs a unit")
	errDurationNegative = errors.New("a duration cannot be negative")
	errDurationTooLong  = errors.New("a duration cannot be longer than about 292 years")
)

// durationUnits are the units of ParseDuration: those of time.ParseDuration
// (minus the Greek-mu spelling of µs) plus "d" for 24 hours.
var durationUnits = []string{"ns", "us", "µs", "ms", "s", "m", "h", "d"}

// ParseDuration parses a non-negative duration written as a sequence of
// decimal numbers, each with a unit: "30s", "1h30m", "1.5h", "2d", "1d12h".
// The units are ns, us (or µs), ms, s, m, h and d (24 hours). Signs, bare
// numbers and a leading or trailing dot are rejected, so the accepted syntax
// is exactly the pattern
// ^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h|d))+$ of the JSON Schema.
func ParseDuration(s string) (Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("%q is not a duration: it is empty", s)
	}
	if s[0] == '-' {
		return 0, fmt.Errorf("%q: %w", s, errDurationNegative)
	}
	var total time.Duration
	rest := s
	for rest != "" {
		// The number: digits, optionally a dot and more digits.
		i := digits(rest, 0)
		if i == 0 {
			return 0, fmt.Errorf("%q is not a duration: expected a number at %q", s, rest)
		}
		if i < len(rest) && rest[i] == '.' {
			j := digits(rest, i+1)
			if j == i+1 {
				return 0, fmt.Errorf("%q is not a duration: expected digits after the dot", s)
			}
			i = j
		}
		// The unit: the longest unit name that follows.
		unit := ""
		for _, u := range durationUnits {
			if len(u) > len(unit) && len(rest) >= i+len(u) && rest[i:i+len(u)] == u {
				unit = u
			}
		}
		if unit == "" {
			if i == len(rest) {
				return 0, fmt.Errorf("%q: %w", s, errDurationNoUnit)
			}
			return 0, fmt.Errorf("%q is not a duration: unknown unit at %q", s, rest[i:])
		}
		v, ok := scaled(rest[:i], unit)
		if !ok || total > math.MaxInt64-v {
			return 0, fmt.Errorf("%q: %w", s, errDurationTooLong)
		}
		total += v
		rest = rest[i+len(unit):]
	}
	return Duration(total), nil
}

// digits returns the index of the first non-digit of s at or after i.
func digits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// scaled returns the number num (digits with an optional fraction) of the
// given unit, and false when it overflows. Hours and smaller units are left
// to time.ParseDuration so fractions round exactly as Go rounds them; a day
// is 24 of its hours.
func scaled(num, unit string) (time.Duration, bool) {
	if unit != "d" {
		v, err := time.ParseDuration(num + unit)
		return v, err == nil
	}
	h, err := time.ParseDuration(num + "h")
	if err != nil || h > math.MaxInt64/24 {
		return 0, false
	}
	return 24 * h, true
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
