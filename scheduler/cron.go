package scheduler

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/sluice-dev/sluice/pipeline"
)

// starBit marks a cron field written as "*" in robfig/cron's bit sets.
const starBit = 1 << 63

// wallClock gives a cron schedule the daylight-saving behaviour people
// expect of cron (Vixie cron's rule): a job at a fixed hour fires once per
// matching wall-clock time, even when the clocks change. robfig/cron counts
// in real time instead, so on its own "30 2 * * *" never fires on the day
// 02:30 does not exist and fires twice on the day it happens twice; here it
// fires at 03:30 (the wall time shifted by the gap) on the first day and
// once, at the first 02:30, on the second. Schedules whose hour is "*" keep
// real-time behaviour: an hourly job still runs every real hour, including
// both 02:00s of the night the clocks go back.
type wallClock struct {
	spec *cron.SpecSchedule
	loc  *time.Location
}

// Next returns the first fire time after t, or the zero time if there is
// none within the five years robfig/cron looks ahead.
func (w wallClock) Next(t time.Time) time.Time {
	after := t.In(w.loc)
	wall := time.Date(after.Year(), after.Month(), after.Day(), after.Hour(), after.Minute(), after.Second(), after.Nanosecond(), time.UTC)
	for i := 0; i < 3; i++ { // at most one repeated hour to step over
		n := w.spec.Next(wall)
		if n.IsZero() {
			return n
		}
		real := resolveWall(n, w.loc)
		if real.After(t) {
			return real
		}
		wall = n // the first occurrence already passed: take the next match
	}
	return time.Time{}
}

// Schedule returns the schedule of p in its timezone with sluice's
// daylight-saving rules, or nil when p has no schedule. Schedules are
// parsed once per expression and zone: planning one pipeline's next run
// asks for its schedule several times, and parsing (with its check that
// the expression ever fires) was most of the cost of the next runs of a
// list of 1,000 pipelines.
func Schedule(p *pipeline.Pipeline) cron.Schedule {
	if p.Schedule == "" {
		return nil
	}
	key := scheduleKey{p.Schedule, p.Timezone}
	if v, ok := schedules.Load(key); ok {
		s, _ := v.(cron.Schedule) // nil for an expression that does not parse
		return s
	}
	s := schedule(p)
	if schedulesSize.Add(1) > maxSchedules {
		schedules.Clear() // a bound for a server that sees many edits
		schedulesSize.Store(1)
	}
	schedules.Store(key, s)
	return s
}

// scheduleKey is what a parsed schedule depends on.
type scheduleKey struct{ expr, zone string }

// maxSchedules bounds the parsed schedules kept by Schedule.
const maxSchedules = 16384

var (
	schedules     sync.Map // scheduleKey → cron.Schedule (never mutated once stored)
	schedulesSize atomic.Int64
)

func schedule(p *pipeline.Pipeline) cron.Schedule {
	s := p.CronSchedule()
	if s == nil {
		return nil
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok || spec.Hour&starBit != 0 {
		return inLocation{s, p.Location()}
	}
	plain := *spec
	plain.Location = time.UTC
	return wallClock{spec: &plain, loc: p.Location()}
}

// inLocation evaluates a schedule in a fixed location.
type inLocation struct {
	s   cron.Schedule
	loc *time.Location
}

func (l inLocation) Next(t time.Time) time.Time { return l.s.Next(t.In(l.loc)) }

// NextFire returns the first fire time of p's schedule after t, within its
// end date; ok is false when there is none.
func NextFire(p *pipeline.Pipeline, t time.Time) (time.Time, bool) {
	s := Schedule(p)
	if s == nil {
		return time.Time{}, false
	}
	n := s.Next(t)
	if n.IsZero() || (p.End != nil && n.After(*p.End)) {
		return time.Time{}, false
	}
	return n.UTC(), true
}

// resolveWall returns the instant at which the clocks of loc show the wall
// time of wall (a time whose UTC fields are the wall clock). A wall time
// that happens twice resolves to its first occurrence; one that does not
// happen (in a gap) resolves by the offset in force before the gap, so
// 02:30 on a spring-forward night becomes 03:30 summer time. time.Date
// leaves both cases unspecified, hence this.
func resolveWall(wall time.Time, loc *time.Location) time.Time {
	_, before := wall.Add(-24 * time.Hour).In(loc).Zone()
	_, after := wall.Add(24 * time.Hour).In(loc).Zone()
	var best time.Time
	for _, off := range []int{before, after} {
		t := wall.Add(-time.Duration(off) * time.Second).In(loc)
		if sameWall(t, wall) && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	if best.IsZero() { // in a gap
		best = wall.Add(-time.Duration(before) * time.Second).In(loc)
	}
	return best
}

func sameWall(t, wall time.Time) bool {
	return t.Year() == wall.Year() && t.YearDay() == wall.YearDay() && t.Hour() == wall.Hour() && t.Minute() == wall.Minute() && t.Second() == wall.Second()
}
