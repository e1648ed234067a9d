package pipeline

import (
	"fmt"
	"regexp"
	"sort"
	"sync"
	"time"

	// The tz database is built in so that every machine, with or without
	// /usr/share/zoneinfo, knows the same zones.
	_ "time/tzdata"
)

//go:generate go run ./internal/tzgen

// locations caches loaded zones by name.
var locations sync.Map

// loadZone returns the location of an IANA zone name. Only the names of the
// tz database built into Go are accepted, so a pipeline valid on one
// machine is valid on every other (whatever zoneinfo files they have), and
// "Local" is refused because it differs between machines.
func loadZone(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	i := sort.SearchStrings(zoneNames, name)
	if i == len(zoneNames) || zoneNames[i] != name {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, loc)
	return loc, nil
}

// zoneOrUTC returns the location of name, or UTC when it has none.
func zoneOrUTC(name string) *time.Location {
	if loc, err := loadZone(name); err == nil {
		return loc
	}
	return time.UTC
}

// Location returns the time zone of p; UTC when p names none or one this
// build does not know.
func (p *Pipeline) Location() *time.Location { return zoneOrUTC(p.Timezone) }

// timezone checks the timezone of the file and returns it, or the default
// when it is not valid.
func (p *parser) timezone(e entry, name string) string {
	if _, err := loadZone(name); err != nil {
		p.errorf(e.valAt, didYouMean(name, zoneNames, `use an IANA name such as "Europe/Warsaw" or "UTC"`),
			"timezone %s is not a known IANA time zone", quoteShort(name))
		return defaultTimezone
	}
	return name
}

// Date forms of start and end, the same as in the JSON Schema.
var (
	dateOnly      = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	localDateTime = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$`)
	zonedDateTime = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`)
)

// date reads start or end: a date (midnight in loc), a date and time
// without offset (in loc) or an RFC 3339 time. The result is in UTC.
func (p *parser) date(e entry, label string, loc *time.Location) *time.Time {
	s, ok := p.str(e, label)
	if !ok {
		return nil
	}
	var t time.Time
	var err error
	switch {
	case dateOnly.MatchString(s):
		t, err = time.ParseInLocation("2006-01-02", s, loc)
	case localDateTime.MatchString(s):
		t, err = time.ParseInLocation("2006-01-02T15:04:05", s, loc)
	case zonedDateTime.MatchString(s):
		t, err = time.Parse(time.RFC3339, s)
	default:
		err = fmt.Errorf("not a date")
	}
	if err != nil {
		p.errorf(e.valAt, "write a date such as 2026-01-31, or a time such as 2026-01-31T06:00:00 (in timezone:) or 2026-01-31T06:00:00Z",
			"%s: %s is not a valid date or time", label, quoteShort(s))
		return nil
	}
	t = t.UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		p.errorf(e.valAt, "", "%s: %s is out of range", label, quoteShort(s))
		return nil
	}
	return &t
}
