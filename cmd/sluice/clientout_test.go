package main

import (
	"testing"
	"time"
)

// TestClockTime: a log line of today reads as a time of day, one of
// another day (in the zone the command prints in) with its date.
func TestClockTime(t *testing.T) {
	t.Parallel()
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		at   time.Time
		zone *time.Location
		want string
	}{
		{"today", time.Date(2026, 12, 5, 9, 30, 1, 250e6, time.UTC), time.UTC, "09:30:01.250"},
		{"yesterday", time.Date(2026, 12, 4, 23, 59, 58, 120e6, time.UTC), time.UTC, "2026-12-04 23:59:58.120"},
		{"yesterday in UTC is today in Warsaw", time.Date(2026, 12, 4, 23, 30, 0, 0, time.UTC), warsaw, "00:30:00.000"},
		{"a year ago, same day", time.Date(2025, 12, 5, 9, 0, 0, 0, time.UTC), time.UTC, "2025-12-05 09:00:00.000"},
	} {
		if got := clockTimeIn(tc.at, now, tc.zone); got != tc.want {
			t.Errorf("%s: clockTimeIn(%v) = %q, want %q", tc.name, tc.at, got, tc.want)
		}
	}
}
