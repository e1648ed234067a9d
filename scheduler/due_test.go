package scheduler_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/scheduler"
)

func mustPipeline(t *testing.T, header string) *pipeline.Pipeline {
	t.Helper()
	src := "id: p\n" + header + "\ntasks:\n  a:\n    noop: true\n"
	p, err := pipeline.Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", src, err)
	}
	return p
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr(t time.Time) *time.Time { return &t }

func fmtTimes(ts []time.Time) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.UTC().Format("01-02 15:04"))
	}
	return strings.Join(s, ", ")
}

func fmtPtr(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format("01-02 15:04")
}

func TestPlanDue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header string
		last   *time.Time
		now    time.Time
		room   int
		want   string // dates
		next   string
	}{
		{"manual only", "", nil, utc("2026-03-02 10:00"), 16, "", "never"},
		{"assets only: no cron runs", "schedule: {assets: [b]}", nil, utc("2026-03-02 10:00"), 16, "", "never"},
		{"cron beside assets plans as cron", "schedule: {cron: \"0 3 * * *\", assets: {any: [b, c]}}\ncatchup: true\nstart: 2026-03-01", ptr(utc("2026-03-01 03:00")), utc("2026-03-02 10:00"), 16,
			"03-02 03:00", "03-03 03:00"},
		{"daily, first time: latest only", `schedule: "0 3 * * *"`, nil, utc("2026-03-02 10:00"), 16, "03-02 03:00", "03-03 03:00"},
		{"daily, already ran", `schedule: "0 3 * * *"`, ptr(utc("2026-03-02 03:00")), utc("2026-03-02 10:00"), 16, "", "03-03 03:00"},
		{"daily, missed days without catchup: latest only", `schedule: "0 3 * * *"`, ptr(utc("2026-02-20 03:00")), utc("2026-03-02 10:00"), 16, "03-02 03:00", "03-03 03:00"},
		{"exactly at fire time", `schedule: "0 3 * * *"`, ptr(utc("2026-03-01 03:00")), utc("2026-03-02 03:00"), 16, "03-02 03:00", "03-03 03:00"},
		{"catchup from start", "schedule: \"0 3 * * *\"\ncatchup: true\nstart: 2026-02-25", nil, utc("2026-03-02 10:00"), 16,
			"02-25 03:00, 02-26 03:00, 02-27 03:00, 02-28 03:00, 03-01 03:00, 03-02 03:00", "03-03 03:00"},
		{"catchup bounded by room", "schedule: \"0 3 * * *\"\ncatchup: true\nstart: 2026-02-25", nil, utc("2026-03-02 10:00"), 2,
			"02-25 03:00, 02-26 03:00", "02-27 03:00"},
		{"catchup without room", "schedule: \"0 3 * * *\"\ncatchup: true\nstart: 2026-02-25", ptr(utc("2026-02-26 03:00")), utc("2026-03-02 10:00"), 0,
			"", "02-27 03:00"},
		{"catchup from the last run", "schedule: \"0 3 * * *\"\ncatchup: true\nstart: 2026-01-01", ptr(utc("2026-03-01 03:00")), utc("2026-03-02 10:00"), 16,
			"03-02 03:00", "03-03 03:00"},
		{"catchup includes a fire time at start", "schedule: \"@daily\"\ncatchup: true\nstart: 2026-03-01", nil, utc("2026-03-02 10:00"), 16,
			"03-01 00:00, 03-02 00:00", "03-03 00:00"},
		{"catchup without start or history: latest only", "schedule: \"@daily\"\ncatchup: true", nil, utc("2026-03-02 10:00"), 16,
			"03-02 00:00", "03-03 00:00"},
		{"end bounds catchup", "schedule: \"0 3 * * *\"\ncatchup: true\nstart: 2026-02-25\nend: 2026-02-27", nil, utc("2026-03-02 10:00"), 16,
			"02-25 03:00, 02-26 03:00", "never"},
		{"past end", "schedule: \"0 3 * * *\"\nend: 2026-02-27", ptr(utc("2026-02-26 03:00")), utc("2026-03-02 10:00"), 16, "", "never"},
		{"start in the future", "schedule: \"0 3 * * *\"\nstart: 2026-04-01", nil, utc("2026-03-02 10:00"), 16, "", "04-01 03:00"},
		{"no room without catchup waits for it", `schedule: "0 3 * * *"`, ptr(utc("2026-03-01 03:00")), utc("2026-03-02 10:00"), 0, "", "03-02 03:00"},
		{"hourly", `schedule: "@hourly"`, ptr(utc("2026-03-02 08:00")), utc("2026-03-02 10:30"), 16, "03-02 10:00", "03-02 11:00"},
		{"every 10m, first time: now", `schedule: "@every 10m"`, nil, utc("2026-03-02 10:03"), 16, "03-02 10:03", "03-02 10:13"},
		{"every 10m, anchored to the last run", `schedule: "@every 10m"`, ptr(utc("2026-03-02 10:03")), utc("2026-03-02 10:15"), 16, "03-02 10:13", "03-02 10:23"},
		{"every 10m, not yet due: next follows the last run, not now", `schedule: "@every 10m"`, ptr(utc("2026-03-02 10:03")), utc("2026-03-02 10:08"), 16, "", "03-02 10:13"},
		{"every 10m, missed several without catchup: latest only, next follows it", `schedule: "@every 10m"`, ptr(utc("2026-03-02 10:03")), utc("2026-03-02 10:41"), 16, "03-02 10:33", "03-02 10:43"},
		{"every 10m, catchup from the last run", "schedule: \"@every 10m\"\ncatchup: true", ptr(utc("2026-03-02 10:03")), utc("2026-03-02 10:25"), 16, "03-02 10:13, 03-02 10:23", "03-02 10:33"},
		{"every 90m, no room waits for the missed one", `schedule: "@every 90m"`, ptr(utc("2026-03-02 07:00")), utc("2026-03-02 10:00"), 0, "", "03-02 10:00"},
		{"timezone: 03:00 in Warsaw is 02:00 UTC in winter", "schedule: \"0 3 * * *\"\ntimezone: Europe/Warsaw", nil, utc("2026-03-02 10:00"), 16, "03-02 02:00", "03-03 02:00"},
		{"yearly on 29 Feb", `schedule: "0 0 29 2 *"`, nil, utc("2026-03-02 10:00"), 16, "02-29 00:00", "02-29 00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mustPipeline(t, tt.header)
			d := scheduler.PlanDue(p, tt.last, tt.now, tt.room)
			if got := fmtTimes(d.Dates); got != tt.want {
				t.Errorf("dates = %q, want %q", got, tt.want)
			}
			if got := fmtPtr(d.Next); got != tt.next {
				t.Errorf("next = %s, want %s", got, tt.next)
			}
		})
	}
}

// TestCronDST pins what happens when clocks change: every fixed-time job
// runs exactly once per local day, and hourly jobs run every real hour.
func TestCronDST(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		schedule string
		tz       string
		from     string // UTC
		n        int
		want     string // local wall times
	}{
		{"Warsaw spring forward: 02:30 does not exist, runs at 03:30 summer time", "30 2 * * *", "Europe/Warsaw", "2026-03-27 12:00", 4,
			"03-28 02:30 CET, 03-29 03:30 CEST, 03-30 02:30 CEST, 03-31 02:30 CEST"},
		{"Warsaw fall back: 02:30 happens twice, runs once", "30 2 * * *", "Europe/Warsaw", "2026-10-23 12:00", 4,
			"10-24 02:30 CEST, 10-25 02:30 CEST, 10-26 02:30 CET, 10-27 02:30 CET"},
		{"Warsaw 03:00 across spring forward", "0 3 * * *", "Europe/Warsaw", "2026-03-27 12:00", 3,
			"03-28 03:00 CET, 03-29 03:00 CEST, 03-30 03:00 CEST"},
		{"Warsaw hourly across fall back: both 02:00s", "0 * * * *", "Europe/Warsaw", "2026-10-24 23:30", 4,
			"10-25 02:00 CEST, 10-25 02:00 CET, 10-25 03:00 CET, 10-25 04:00 CET"},
		{"Warsaw hourly across spring forward: 02:00 does not exist", "0 * * * *", "Europe/Warsaw", "2026-03-28 23:30", 3,
			"03-29 01:00 CET, 03-29 03:00 CEST, 03-29 04:00 CEST"},
		{"New York spring forward", "30 2 * * *", "America/New_York", "2026-03-07 12:00", 3,
			"03-08 03:30 EDT, 03-09 02:30 EDT, 03-10 02:30 EDT"},
		{"New York fall back", "30 1 * * *", "America/New_York", "2026-10-31 12:00", 3,
			"11-01 01:30 EDT, 11-02 01:30 EST, 11-03 01:30 EST"},
		{"weekly Monday 09:00 Sydney across April fall back", "0 9 * * 1", "Australia/Sydney", "2026-03-29 00:00", 3,
			"03-30 09:00 AEDT, 04-06 09:00 AEST, 04-13 09:00 AEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mustPipeline(t, fmt.Sprintf("schedule: %q\ntimezone: %s", tt.schedule, tt.tz))
			loc := p.Location()
			at := utc(tt.from)
			var got []string
			for i := 0; i < tt.n; i++ {
				next, ok := scheduler.NextFire(p, at)
				if !ok {
					t.Fatalf("no fire after %v", at)
				}
				if !next.After(at) {
					t.Fatalf("next %v not after %v", next, at)
				}
				got = append(got, next.In(loc).Format("01-02 15:04 MST"))
				at = next
			}
			if g := strings.Join(got, ", "); g != tt.want {
				t.Errorf("got  %s\nwant %s", g, tt.want)
			}
		})
	}
}

// TestNextRunIsWhenTheSchedulerFires pins that the next run people are
// shown (API, CLI, UI) is the logical date of the run the scheduler
// creates next: not earlier, not later, whatever the schedule and the time
// of the last run.
func TestNextRunIsWhenTheSchedulerFires(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header string
		last   *time.Time
		now    time.Time
		want   string
	}{
		{"every 1h, last run 10 minutes ago", `schedule: "@every 1h"`, ptr(utc("2026-03-02 09:50")), utc("2026-03-02 10:00"), "03-02 10:50"},
		{"every 10m, last run 7 minutes ago", `schedule: "@every 10m"`, ptr(utc("2026-03-02 10:03")), utc("2026-03-02 10:10"), "03-02 10:13"},
		{"every 10m, never ran: due now", `schedule: "@every 10m"`, nil, utc("2026-03-02 10:10"), "03-02 10:10"},
		{"every 10m, overdue: the latest missed fire", `schedule: "@every 10m"`, ptr(utc("2026-03-02 10:03")), utc("2026-03-02 10:41"), "03-02 10:33"},
		{"every 10m, catchup backlog: the oldest missed fire", "schedule: \"@every 10m\"\ncatchup: true", ptr(utc("2026-03-02 10:03")), utc("2026-03-02 10:41"), "03-02 10:13"},
		{"daily, ran today", `schedule: "0 3 * * *"`, ptr(utc("2026-03-02 03:00")), utc("2026-03-02 10:00"), "03-03 03:00"},
		{"daily, start in the future", "schedule: \"0 3 * * *\"\nstart: 2026-04-01", nil, utc("2026-03-02 10:00"), "04-01 03:00"},
		{"past end", "schedule: \"0 3 * * *\"\nend: 2026-02-27", ptr(utc("2026-02-26 03:00")), utc("2026-03-02 10:00"), "never"},
		{"manual only", "", nil, utc("2026-03-02 10:00"), "never"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mustPipeline(t, tt.header)
			next, ok := scheduler.NextRun(p, tt.last, tt.now)
			got := "never"
			if ok {
				got = next.UTC().Format("01-02 15:04")
			}
			if got != tt.want {
				t.Fatalf("next run = %s, want %s", got, tt.want)
			}
			if !ok {
				return
			}
			// The scheduler, looking at the pipeline at that time (or now,
			// for a run already due), creates exactly that run first.
			at := next
			if at.Before(tt.now) {
				at = tt.now
			}
			if at.After(tt.now) {
				if d := scheduler.PlanDue(p, tt.last, at.Add(-time.Second), 16); len(d.Dates) != 0 {
					t.Errorf("a second before the next run, the scheduler already creates %s", fmtTimes(d.Dates))
				}
			}
			d := scheduler.PlanDue(p, tt.last, at, 16)
			if len(d.Dates) == 0 || !d.Dates[0].Equal(next) {
				t.Errorf("at %s the scheduler creates %q, want first %s", at.Format("01-02 15:04"), fmtTimes(d.Dates), got)
			}
		})
	}
}

// TestScheduleParsedOnce: a schedule is parsed once per expression and
// zone, so planning the next runs of a long list parses nothing again;
// another zone is another schedule, and @every keeps its meaning.
func TestScheduleParsedOnce(t *testing.T) {
	t.Parallel()
	warsaw := mustPipeline(t, "schedule: \"0 3 * * *\"\ntimezone: Europe/Warsaw")
	again := mustPipeline(t, "schedule: \"0 3 * * *\"\ntimezone: Europe/Warsaw")
	tokyo := mustPipeline(t, "schedule: \"0 3 * * *\"\ntimezone: Asia/Tokyo")
	if scheduler.Schedule(warsaw) != scheduler.Schedule(again) {
		t.Error("the same expression and zone were parsed twice")
	}
	if scheduler.Schedule(warsaw) == scheduler.Schedule(tokyo) {
		t.Error("two zones share a schedule")
	}
	from := utc("2026-12-05 00:00")
	if w, k := scheduler.Schedule(warsaw).Next(from), scheduler.Schedule(tokyo).Next(from); !w.Equal(utc("2026-12-05 02:00")) || !k.Equal(utc("2026-12-05 18:00")) {
		t.Errorf("next fires: Warsaw %v, Tokyo %v", w, k)
	}
	every := mustPipeline(t, `schedule: "@every 10m"`)
	now := utc("2026-12-05 10:03")
	if d := scheduler.PlanDue(every, nil, now, 1); len(d.Dates) != 1 || !d.Dates[0].Equal(now) {
		t.Errorf("@every with no history: due %v, want now", d.Dates)
	}
	if scheduler.Schedule(mustPipeline(t, "")) != nil {
		t.Error("a pipeline without a schedule has one")
	}
}
