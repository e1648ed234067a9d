package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Output of the client commands: tables for people, JSON for scripts.

// printJSON prints v as indented JSON, as the API sent it.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() { _ = t.tw.Flush() }

// displayZone is the zone the client commands print times in: the
// machine's local zone ($TZ), or UTC with --utc.
var displayZone = time.Local

// zoneName names the display zone for people: "UTC", or "local time
// (Europe/Warsaw)" as $TZ or the system sets it.
func zoneName() string {
	if displayZone == time.UTC {
		return "UTC"
	}
	if name := os.Getenv("TZ"); name != "" {
		return "local time (" + strings.TrimPrefix(name, ":") + ")"
	}
	name, _ := time.Now().In(displayZone).Zone()
	return "local time (" + name + ")"
}

// shortTime shows a time in the display zone, always with its date, since
// runs span days: "2026-12-05 03:00". A zero time is "-".
func shortTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(displayZone).Format("2006-01-02 15:04")
}

// fullTime shows a time in the display zone to the second, with the
// zone's abbreviation: "2026-12-05 03:00:00 CET".
func fullTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(displayZone).Format("2006-01-02 15:04:05 MST")
}

// zonedBound is a --since or --until for the API: a date or a time
// without an offset is read in the display zone, as the times the
// command prints, and sent as an RFC 3339 time; a time ago (12h) or an
// RFC 3339 time goes as given.
func zonedBound(s string) string {
	for _, layout := range []string{"2006-01-02T15:04", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, displayZone); err == nil {
			return t.Format(time.RFC3339)
		}
	}
	return s
}

// clockTime is the time of a log line or a line that streams as it
// happens, in the display zone: the time of day, "15:04:05.000", when the
// line is of today there, else with its date in front, "2026-12-04
// 23:59:58.120", as shortTime writes dates: a run's log can span days,
// and a log read later must say which day each line is of.
func clockTime(t time.Time) string { return clockTimeIn(t, time.Now(), displayZone) }

// clockTimeIn is clockTime for a given now and zone.
func clockTimeIn(t, now time.Time, zone *time.Location) string {
	t, now = t.In(zone), now.In(zone)
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04:05.000")
	}
	return t.Format("2006-01-02 15:04:05.000")
}

func shortTimePtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return shortTime(*t)
}

// shortDuration rounds a duration in seconds for reading: milliseconds
// under a second, tenths under a minute, seconds under an hour, minutes
// beyond. Nil is "-".
func shortDuration(secs *float64) string {
	if secs == nil {
		return "-"
	}
	d := time.Duration(*secs * float64(time.Second))
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// shortHash is the first 12 hex digits of a version hash.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "-"
	}
	return h
}

// orDash shows an empty string as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// jsonLine is v as JSON on one line, with its newline.
func jsonLine(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}
