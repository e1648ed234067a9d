package scheduler

import (
	"time"

	"github.com/robfig/cron/v3"

	"github.com/sluice-dev/sluice/pipeline"
)

// Due is what a pipeline's schedule asks for at one moment.
type Due struct {
	// Dates are the logical dates of the scheduled runs to create now,
	// oldest first.
	Dates []time.Time
	// Next is when to look at the pipeline again; nil means never (no
	// schedule, or past its end). A Next in the past means a backlog waits
	// for room under max_active_runs.
	Next *time.Time
}

// PlanDue decides which scheduled runs a pipeline needs at now.
//
// The logical date of a scheduled run is the time its schedule fires, in
// the pipeline's timezone (as cron, GitHub Actions and Airflow's
// CronTriggerTimetable do): the run for "0 3 * * *" on 2 March has logical
// date 2 March 03:00. last is the logical date of the newest scheduled run
// (nil if none); room is how many more runs max_active_runs allows.
//
// With catchup, every fire time after last (or from start) up to now gets a
// run, at most room at a time; the rest wait for room. Without catchup only
// the latest fire time gets a run, and missed ones are skipped. A pipeline
// with catchup but neither start nor history starts with its latest fire
// time, like one without. Start and end bound the logical dates.
func PlanDue(p *pipeline.Pipeline, last *time.Time, now time.Time, room int) Due {
	sched := Schedule(p)
	if sched == nil {
		return Due{}
	}
	fire := func(after time.Time) (time.Time, bool) { return NextFire(p, after) }
	// lower: fire times must be after it.
	var lower *time.Time
	if last != nil {
		lower = last
	} else if p.Start != nil {
		s := p.Start.Add(-time.Nanosecond) // a fire time exactly at start counts
		lower = &s
	}
	var d Due
	if p.Catchup && lower != nil {
		t, ok := fire(*lower)
		for ok && !t.After(now) && len(d.Dates) < room {
			d.Dates = append(d.Dates, t)
			t, ok = fire(t)
		}
		if ok {
			d.Next = &t
		}
		return d
	}
	latest, ok := latestFire(sched, now, lower, fire)
	if ok {
		if room <= 0 {
			d.Next = &latest // create it once a run finishes
			return d
		}
		d.Dates = append(d.Dates, latest)
		lower = &latest
	}
	// The next fire time follows the newest logical date (or start), not
	// now: "@every 10m" that last ran at 10:03 fires at 10:13 whenever the
	// scheduler looks. Only when that time has passed with no run (which
	// latestFire rules out) or there is no history does now decide.
	from := now
	if lower != nil {
		if t, ok := fire(*lower); !ok || t.After(now) {
			from = *lower
		}
	}
	if t, ok := fire(from); ok {
		d.Next = &t
	}
	return d
}

// lookbacks are the windows searched for the latest fire time before now,
// smallest first, up to the five years a cron schedule can take to repeat
// (a 29 February).
var lookbacks = []time.Duration{time.Hour, 25 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour, 5 * 367 * 24 * time.Hour}

// latestFire returns the latest fire time at or before now and after lower.
func latestFire(sched cron.Schedule, now time.Time, lower *time.Time, fire func(time.Time) (time.Time, bool)) (time.Time, bool) {
	if l, ok := sched.(inLocation); ok {
		sched = l.s
	}
	if _, every := sched.(cron.ConstantDelaySchedule); every && lower == nil {
		// "@every 10m" with no history is due at once; it is then anchored
		// to that first run.
		return now.Truncate(time.Second).UTC(), true
	}
	for _, w := range lookbacks {
		from, clamped := now.Add(-w), false
		if lower != nil && lower.After(from) {
			from, clamped = *lower, true
		}
		t, ok := fire(from)
		if !ok || t.After(now) {
			if clamped {
				return time.Time{}, false // nothing since lower
			}
			continue
		}
		latest := t
		for {
			t, ok = fire(t)
			if !ok || t.After(now) {
				return latest, true
			}
			latest = t
		}
	}
	return time.Time{}, false
}

// RunKey is the key of the scheduled run for a logical date; being unique
// per pipeline, it makes creating the same scheduled run twice a no-op.
func RunKey(logical time.Time) string {
	return "scheduled__" + logical.UTC().Format(time.RFC3339)
}

// NextRun returns the logical date of the next scheduled run of p, as the
// scheduler decides it at now: last is the logical date of the newest
// scheduled run (nil if none). A time at or before now means a run is due
// (the scheduler creates it on its next pass, or once max_active_runs
// leaves room); a later one is when the schedule fires next. ok is false
// when it never fires again: no schedule, or past its end.
//
// It is the only answer to "when does this pipeline run next": the API,
// the CLI and the UI show it, and it is the scheduler's own plan (PlanDue),
// so what they show cannot differ from what happens. For @every the
// schedule is anchored to the last run, not to now.
func NextRun(p *pipeline.Pipeline, last *time.Time, now time.Time) (time.Time, bool) {
	d := PlanDue(p, last, now, 1)
	switch {
	case len(d.Dates) > 0:
		return d.Dates[0], true
	case d.Next != nil:
		return *d.Next, true
	}
	return time.Time{}, false
}
