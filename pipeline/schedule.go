package pipeline

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser reads standard 5-field cron expressions ("min hour day month
// weekday") and the descriptors @hourly, @daily, @midnight, @weekly,
// @monthly, @yearly, @annually and @every <duration>. There is no seconds
// field: a pipeline is not meant to run more than once a minute on a cron.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

const scheduleHint = `use 5 fields "min hour day month weekday" or @hourly, @daily, @every 10m`

// Errors of ParseSchedule that get their own hint.
var (
	errNeverFires = errors.New("it never fires: no date matches its day and month fields")
	errZonePrefix = errors.New("a time zone prefix is not allowed in the schedule")
)

// ParseSchedule parses a schedule: a standard 5-field cron expression or a
// descriptor (@hourly, @daily, @midnight, @weekly, @monthly, @yearly,
// @annually, @every <duration>). @every takes a Go duration ("90m",
// "1h30m", no days) of whole seconds, at least 1s. Cron schedules that
// never fire ("0 0 30 2 *") are rejected. The schedule runs in the location
// of the time given to its Next method; see Pipeline.CronSchedule.
func ParseSchedule(expr string) (cron.Schedule, error) {
	spec := normalizeSchedule(expr)
	switch {
	case spec == "":
		return nil, errors.New("the schedule is empty")
	case strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ="):
		return nil, errZonePrefix
	}
	if every, ok := strings.CutPrefix(spec, "@every "); ok {
		if err := checkEvery(every); err != nil {
			return nil, err
		}
	}
	s, err := parseCron(spec)
	if err != nil {
		return nil, err
	}
	if ss, ok := s.(*cron.SpecSchedule); ok {
		// SpecSchedule.Next looks five years ahead, long enough to find a
		// 29th of February, and returns the zero time when nothing matches.
		if ss.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
			return nil, errNeverFires
		}
	}
	return s, nil
}

// normalizeSchedule trims the expression and collapses runs of spaces, so
// the stored schedule does not depend on how it was spaced.
func normalizeSchedule(expr string) string {
	return strings.Join(strings.Fields(expr), " ")
}

// checkEvery checks the duration of @every, which cron would otherwise
// round up to 1s (a negative or sub-second one) or down to whole seconds.
func checkEvery(every string) error {
	d, err := time.ParseDuration(every)
	if err != nil {
		if sd, serr := ParseDuration(every); serr == nil && sd > 0 {
			return fmt.Errorf("@every takes hours at most, not days: write @every %s", time.Duration(sd))
		}
		return fmt.Errorf("@every needs a duration such as 10m or 1h30m, not %q", every)
	}
	if d < time.Second || d%time.Second != 0 {
		return fmt.Errorf("@every needs a whole number of seconds, at least 1s, not %s", every)
	}
	return nil
}

// parseCron runs the cron parser, turning a panic inside it into an error.
func parseCron(spec string) (s cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("cannot parse %q", spec)
		}
	}()
	return cronParser.Parse(spec)
}

// schedule checks the schedule of the file and returns its normal form.
func (p *parser) schedule(e entry, s string) string {
	if _, err := ParseSchedule(s); err != nil {
		hint := scheduleHint
		switch err {
		case errNeverFires:
			hint = "check the day of month and month fields: the day must exist in one of the months"
		case errZonePrefix:
			hint = "remove the prefix and set timezone: for the pipeline instead"
		}
		p.errorf(e.valAt, hint, "schedule %s is not valid: %v", quoteShort(s), err)
		return ""
	}
	return normalizeSchedule(s)
}

// CronSchedule returns the schedule of p, evaluated in p's time zone, or
// nil when p has no schedule (it runs only when triggered).
func (p *Pipeline) CronSchedule() cron.Schedule {
	if p.Schedule == "" {
		return nil
	}
	s, err := ParseSchedule(p.Schedule)
	if err != nil {
		return nil
	}
	if ss, ok := s.(*cron.SpecSchedule); ok {
		ss.Location = p.Location()
	}
	return s
}
