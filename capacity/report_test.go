package capacity_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/capacity"
	"github.com/sluice-dev/sluice/store"
)

// history is 30 days from 2026-01-01 with known trends:
//   - pool warehouse (4 slots): its busiest hour at 50% on day 0, rising
//     1 point a day, so full on day 50 (2026-02-20); a second hour at
//     half of it;
//   - pool legacy: used, but no longer exists;
//   - pipeline events (@every 2h, 12 runs a day): every run on day i
//     takes 30m + 1m × i, so p95 reaches 2h on day 90 (2026-04-01);
//   - pipeline fresh: its oldest run on day 10 at 09:00, 5 runs a day
//     since, so its first day, cut short, is left out;
//   - metric daily_orders.load.rows: 1M + 20k × i, so 2M on day 50; one
//     value that is not a number.
func history() *store.CapacityHistory {
	oldest := jan1.AddDate(0, -1, 0)
	h := &store.CapacityHistory{From: jan1, To: day(30), Oldest: &oldest, PipelineOldest: map[string]time.Time{
		"events": oldest, "daily_orders": oldest, "fresh": day(10).Add(9 * time.Hour),
	}}
	for i := 0; i < 30; i++ {
		peak := (0.50 + 0.01*float64(i)) * 4 * 3600
		h.PoolHours = append(h.PoolHours,
			// The busiest hour is two pipelines' use together.
			store.PoolHour{Pool: "warehouse", PipelineID: "events", Hour: day(i).Add(3 * time.Hour), SlotSeconds: peak * 3 / 4},
			store.PoolHour{Pool: "warehouse", PipelineID: "daily_orders", Hour: day(i).Add(3 * time.Hour), SlotSeconds: peak / 4},
			store.PoolHour{Pool: "warehouse", PipelineID: "events", Hour: day(i).Add(4 * time.Hour), SlotSeconds: peak / 2},
			store.PoolHour{Pool: "legacy", PipelineID: "events", Hour: day(i).Add(5 * time.Hour), SlotSeconds: 600})
		h.Runs = append(h.Runs, store.RunDay{PipelineID: "events", Day: day(i), Runs: 12, Succeeded: 12})
		for range 12 {
			h.Durations = append(h.Durations, store.RunDuration{PipelineID: "events", Day: day(i), Duration: 30*time.Minute + time.Duration(i)*time.Minute})
		}
		if i >= 10 {
			h.Runs = append(h.Runs, store.RunDay{PipelineID: "fresh", Day: day(i), Runs: 5, Succeeded: 5})
		}
		rows := 1e6 + 2e4*float64(i)
		m := store.MetricDay{PipelineID: "daily_orders", TaskID: "load", Name: "rows", Day: day(i), Count: 1, Sum: rows, Min: rows, Max: rows}
		if i == 7 {
			m.Invalid, m.Example = 1, "n/a"
		}
		h.Metrics = append(h.Metrics, m)
	}
	return h
}

func input() capacity.Input {
	return capacity.Input{
		History: history(),
		Pipelines: []*store.Pipeline{
			{ID: "daily_orders", Schedule: "0 3 * * *"},
			{ID: "events", Schedule: "@every 2h"},
			{ID: "fresh"},
			{ID: "manual_only"},
		},
		Pools: []*store.Pool{{Name: "gpu", Slots: 2}, {Name: "warehouse", Slots: 4}},
	}
}

func TestCompute(t *testing.T) {
	t.Parallel()
	in := input()
	th, err := capacity.ParseThreshold("daily_orders.load.rows=2M")
	if err != nil {
		t.Fatal(err)
	}
	in.Thresholds = []capacity.Threshold{th}
	r, err := capacity.Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	if r.Days != 30 || !r.From.Equal(jan1) || !r.To.Equal(day(30)) {
		t.Errorf("window %s to %s, %d days", r.From, r.To, r.Days)
	}

	pools := map[string]*capacity.PoolTrend{}
	for _, p := range r.Pools {
		pools[p.Name] = p
	}
	wh := pools["warehouse"]
	if wh == nil || wh.Full == nil {
		t.Fatalf("no forecast for warehouse: %+v", wh)
	}
	wantMessage(t, wh.Full, capacity.StatusDate, "at this growth, pool `warehouse` is full from 2026-02-20")
	if wh.Full.Risk != capacity.RiskHigh || wh.Full.Days != 20 {
		t.Errorf("warehouse risk %s in %d days, want high in 20", wh.Full.Risk, wh.Full.Days)
	}
	if got := wh.Peak.Points[0].Value; got != 0.5 {
		t.Errorf("warehouse's first peak %v, want 0.5", got)
	}
	if got, want := wh.Mean.Points[0].Value, 0.5*4*3600*1.5/(4*86400); !near(got, want) {
		t.Errorf("warehouse's first mean %v, want %v", got, want)
	}
	if len(wh.Peak.Points) != 30 {
		t.Errorf("warehouse has %d days, want 30: its history reaches past the window", len(wh.Peak.Points))
	}
	if len(wh.Users) != 2 || wh.Users[0].Pipeline != "events" || !near(wh.Users[0].SlotHours+wh.Users[1].SlotHours, wh.SlotHours) {
		t.Errorf("warehouse's users: %+v", wh.Users)
	}
	if gpu := pools["gpu"]; gpu == nil || gpu.Full == nil || !strings.Contains(gpu.Full.Message, "pool `gpu` was not used") || gpu.Full.Risk != capacity.RiskNone {
		t.Errorf("unused pool gpu: %+v", gpu)
	}
	if legacy := pools["legacy"]; legacy == nil || legacy.Exists || legacy.Full != nil || !near(legacy.SlotHours, 30*600/3600.0) {
		t.Errorf("pool legacy, used but gone: %+v", legacy)
	}

	pipes := map[string]*capacity.PipelineTrend{}
	for _, p := range r.Pipelines {
		pipes[p.ID] = p
	}
	ev := pipes["events"]
	if ev == nil || ev.Interval != 2*time.Hour || ev.Overrun == nil {
		t.Fatalf("events: %+v", ev)
	}
	wantMessage(t, ev.Overrun, capacity.StatusDate, "at this growth, runs of `events` take longer than their schedule interval (2h) from 2026-04-01")
	if ev.Overrun.Risk != capacity.RiskMedium || ev.Runs != 360 || ev.RunsPerDay.Fit.Slope != 0 {
		t.Errorf("events: risk %s, %d runs, slope %v", ev.Overrun.Risk, ev.Runs, ev.RunsPerDay.Fit.Slope)
	}
	if got := ev.P95.Points[29].Value; got != (30+29)*60 {
		t.Errorf("events' last p95 %v, want %v", got, (30+29)*60)
	}
	fresh := pipes["fresh"]
	if fresh == nil || fresh.Overrun != nil || len(fresh.RunsPerDay.Points) != 19 || !fresh.RunsPerDay.Points[0].Day.Equal(day(11)) || fresh.RunsPerDay.Fit.Slope != 0 {
		t.Errorf("fresh: its runs should start on day 11, flat: %+v", fresh.RunsPerDay)
	}
	if pipes["manual_only"] != nil {
		t.Error("a pipeline without runs or schedule is listed")
	}
	if d := pipes["daily_orders"]; d == nil || d.Overrun == nil || d.Overrun.Status != capacity.StatusInsufficient ||
		!strings.Contains(d.Overrun.Message, "`daily_orders` has no runs in this window") {
		t.Errorf("daily_orders, scheduled without runs in the window: %+v", d.Overrun)
	}

	if len(r.Volumes) != 1 {
		t.Fatalf("volumes: %+v", r.Volumes)
	}
	v := r.Volumes[0]
	if v.Key() != "daily_orders.load.rows" || v.Count != 30 || v.Invalid != 1 || v.Threshold == nil || *v.Threshold != 2e6 {
		t.Errorf("volume: %+v", v)
	}
	wantMessage(t, v.Forecast, capacity.StatusDate, "at this growth, metric `rows` of `daily_orders.load` passes 2M from 2026-02-20")

	notes := strings.Join(r.Notes, "\n")
	for _, want := range []string{"`legacy`", "`daily_orders.load` wrote 1 value(s) of metric.rows that are not numbers (such as \"n/a\")"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}

	var order []string
	for _, f := range r.Forecasts() {
		order = append(order, f.Subject+":"+f.Risk)
	}
	if got := strings.Join(order, ", "); got != "pool warehouse:high, metric daily_orders.load.rows:high, pipeline events:medium, pipeline daily_orders:unknown, pool gpu:none" {
		t.Errorf("forecasts in order: %s", got)
	}
}

func TestComputeShortHistory(t *testing.T) {
	t.Parallel()
	in := input()
	// History starts on day 20 at noon: retention pruned the rest.
	oldest := day(20).Add(12 * time.Hour)
	in.History.Oldest = &oldest
	var runs []store.RunDay
	var hours []store.PoolHour
	for _, rd := range in.History.Runs {
		if !rd.Day.Before(day(20)) {
			runs = append(runs, rd)
		}
	}
	for _, ph := range in.History.PoolHours {
		if !ph.Hour.Before(oldest) {
			hours = append(hours, ph)
		}
	}
	in.History.Runs, in.History.PoolHours = runs, hours
	r, err := capacity.Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.Notes, "\n"), "History starts on 2026-01-21") {
		t.Errorf("notes: %q", r.Notes)
	}
	for _, p := range r.Pools {
		if p.Name != "warehouse" {
			continue
		}
		// Day 20 is cut short and left out: days 21 to 29 remain.
		if len(p.Peak.Points) != 9 || !p.Peak.Points[0].Day.Equal(day(21)) {
			t.Errorf("warehouse peak from %s, %d days; want from day 21, 9 days", p.Peak.Points[0].Day, len(p.Peak.Points))
		}
	}

	// From day 24 on, six days remain, the first cut short: too few.
	in = input()
	oldest = day(24).Add(time.Hour)
	in.History.Oldest = &oldest
	r, err = capacity.Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Pools {
		if p.Name == "warehouse" {
			wantMessage(t, p.Full, capacity.StatusInsufficient, "not enough history to forecast pool `warehouse`: 5 days with data, need 7")
		}
	}
}

// TestComputePoolCut: a pool used by a pipeline whose history starts
// late is charted from then on, or its use would look like growth.
func TestComputePoolCut(t *testing.T) {
	t.Parallel()
	in := input()
	for i := 10; i < 30; i++ {
		in.History.PoolHours = append(in.History.PoolHours, store.PoolHour{Pool: "warehouse", PipelineID: "fresh", Hour: day(i).Add(9 * time.Hour), SlotSeconds: 3600})
	}
	r, err := capacity.Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Pools {
		if p.Name == "warehouse" && (len(p.Peak.Points) != 19 || !p.Peak.Points[0].Day.Equal(day(11))) {
			t.Errorf("warehouse from %s, %d days; want from day 11, 19 days", p.Peak.Points[0].Day, len(p.Peak.Points))
		}
	}
	if notes := strings.Join(r.Notes, "\n"); !strings.Contains(notes, "`warehouse` from 2026-01-11 (when the history of `fresh` starts)") {
		t.Errorf("notes: %s", notes)
	}
}

func TestComputeUnknownThreshold(t *testing.T) {
	t.Parallel()
	in := input()
	th, _ := capacity.ParseThreshold("daily_orders.load.bytes=5G")
	in.Thresholds = []capacity.Threshold{th}
	_, err := capacity.Compute(in)
	if sluice.ErrorCode(err) != sluice.EINVALID || !strings.Contains(err.Error(), "metrics reported: daily_orders.load.rows") {
		t.Errorf("unknown metric: %v", err)
	}
}

func TestComputeEmpty(t *testing.T) {
	t.Parallel()
	r, err := capacity.Compute(capacity.Input{History: &store.CapacityHistory{From: jan1, To: day(30)}})
	if err != nil || len(r.Pipelines)+len(r.Pools)+len(r.Volumes) != 0 || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "No runs are stored yet") {
		t.Errorf("empty: %+v, %v", r, err)
	}
}

func wantMessage(t *testing.T, f *capacity.Forecast, status capacity.Status, msg string) {
	t.Helper()
	if f == nil {
		t.Errorf("no forecast, want %s: %q", status, msg)
		return
	}
	if f.Status != status || !strings.Contains(f.Message, msg) {
		t.Errorf("forecast %s: %q\nwant %s: %q", f.Status, f.Message, status, msg)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// TestComputeWithoutSuccessfulRuns checks what the forecast of a scheduled
// pipeline without successful runs says: that it has no history yet, and
// what to do, unless its runs did fail.
func TestComputeWithoutSuccessfulRuns(t *testing.T) {
	t.Parallel()
	older := jan1.AddDate(0, 0, -3)
	today := day(30).Add(2 * time.Hour)
	for _, tt := range []struct {
		name   string
		oldest *time.Time
		runs   []store.RunDay
		want   string
	}{
		{"never ran", nil, nil, "`p` has not run yet: no history to forecast from; a forecast of its run time needs successful runs on 7 days, so come back"},
		{"ran only today", &today, nil, "`p` has run only today, which the report leaves out: no history to forecast from yet"},
		{"ran before the window", &older, nil, "`p` has no runs in this window: nothing to forecast; its runs are older than the window, so choose a longer one"},
		{"every run failed", &older, []store.RunDay{{PipelineID: "p", Day: day(3), Runs: 2, Failed: 2}, {PipelineID: "p", Day: day(4), Runs: 1, Failed: 1}},
			"none of the 3 runs of `p` in this window succeeded: no run time to forecast from; a forecast of its run time needs successful runs on 7 days, so see why its runs fail first"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := &store.CapacityHistory{From: jan1, To: day(30), Oldest: tt.oldest, PipelineOldest: map[string]time.Time{}, Runs: tt.runs}
			if tt.oldest != nil {
				h.PipelineOldest["p"] = *tt.oldest
			}
			r, err := capacity.Compute(capacity.Input{History: h, Pipelines: []*store.Pipeline{{ID: "p", Schedule: "@hourly"}}})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Pipelines) != 1 {
				t.Fatalf("pipelines: %+v", r.Pipelines)
			}
			wantMessage(t, r.Pipelines[0].Overrun, capacity.StatusInsufficient, tt.want)
		})
	}
}
