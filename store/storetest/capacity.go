package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// testCapacityHistory builds a few days of history with the clock and
// checks every aggregate against numbers worked out by hand: runs by day,
// run durations, pool slot use split at hour boundaries (including an
// attempt that started before the window and one still running), and
// metric outputs, numeric or not.
func testCapacityHistory(t *testing.T, open Opener) {
	b := setup(t, open)
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	at := func(day int, hhmm string) time.Time {
		var h, m int
		if _, err := fmt.Sscanf(hhmm, "%d:%d", &h, &m); err != nil {
			t.Fatal(err)
		}
		return day0.AddDate(0, 0, day).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	if err := b.s.PoolSet(b.ctx, &store.Pool{Name: "wh", Slots: 4}); err != nil {
		t.Fatal(err)
	}
	b.save("cap", 10, task{id: "work", pool: "wh", slots: 2}, task{id: "report", up: []string{"work"}})
	b.save("other", 10, task{id: "x"})

	// step claims task at start and completes it at end with outputs.
	step := func(taskID string, start, end time.Time, state sluice.AttemptState, outputs map[string]string) {
		t.Helper()
		b.clock.Set(start)
		c := b.claimOne(taskID)
		b.clock.Set(end)
		if err := b.complete(c, state, outputs); err != nil {
			t.Fatalf("complete %s: %v", taskID, err)
		}
	}
	run := func(pipelineID, key string, start time.Time) {
		t.Helper()
		b.clock.Set(start)
		b.createRun(pipelineID, key)
	}

	// A run that started before the window: only its slot use from
	// midnight on counts (hour 0: 2 slots × 30m), and its outputs not.
	run("cap", "old", at(-2, "23:00"))
	step("work", at(-2, "23:00"), at(0, "00:30"), sluice.AttemptSuccess, map[string]string{"metric.rows": "999"})
	step("report", at(0, "00:30"), at(0, "00:31"), sluice.AttemptSuccess, nil)

	// Day 0: two successful runs of 40m and 1h50m, the second crossing
	// midnight: hour 12 gets 2 × 30m; hours 23, 24, 25 get 2 × 30m,
	// 2 × 60m and 2 × 15m.
	run("cap", "r1", at(0, "12:00"))
	step("work", at(0, "12:00"), at(0, "12:30"), sluice.AttemptSuccess, map[string]string{"metric.rows": "100", "metric.bad": "n/a", "plain": "x"})
	step("report", at(0, "12:30"), at(0, "12:40"), sluice.AttemptSuccess, nil)
	run("cap", "r2", at(0, "23:30"))
	step("work", at(0, "23:30"), at(1, "01:15"), sluice.AttemptSuccess, map[string]string{"metric.rows": " 250 "})
	step("report", at(1, "01:15"), at(1, "01:20"), sluice.AttemptSuccess, nil)

	// Day 1: a failed run (hour 34: 2 × 6m) and a run of another pipeline.
	run("cap", "r3", at(1, "10:00"))
	step("work", at(1, "10:00"), at(1, "10:06"), sluice.AttemptFailed, nil)
	run("other", "o1", at(1, "05:00"))
	step("x", at(1, "05:00"), at(1, "05:01"), sluice.AttemptSuccess, map[string]string{"metric.rows": "5"})

	// Day 2: a run still running at now (hour 70: 2 × 60m).
	run("cap", "r5", at(2, "22:00"))
	b.clock.Set(at(2, "22:00"))
	b.claimOne("work")
	// After the window: nothing of it counts.
	run("other", "late", at(3, "01:00"))
	step("x", at(3, "01:00"), at(3, "01:02"), sluice.AttemptSuccess, map[string]string{"metric.rows": "7"})

	h, err := b.s.CapacityHistory(b.ctx, &store.CapacityHistoryParams{From: day0, To: at(3, "00:00"), Now: at(2, "23:00")})
	if err != nil {
		t.Fatal(err)
	}
	if h.Oldest == nil || !h.Oldest.Equal(at(-2, "23:00")) {
		t.Errorf("Oldest = %v, want %v", h.Oldest, at(-2, "23:00"))
	}
	if got, want := fmt.Sprint(h.PipelineOldest), fmt.Sprint(map[string]time.Time{"cap": at(-2, "23:00"), "other": at(1, "05:00")}); got != want {
		t.Errorf("PipelineOldest = %v, want %v", got, want)
	}
	wantRuns := []store.RunDay{
		{PipelineID: "cap", Day: at(0, "0:0"), Runs: 2, Succeeded: 2},
		{PipelineID: "cap", Day: at(1, "0:0"), Runs: 1, Failed: 1},
		{PipelineID: "cap", Day: at(2, "0:0"), Runs: 1},
		{PipelineID: "other", Day: at(1, "0:0"), Runs: 1, Succeeded: 1},
	}
	if fmt.Sprint(h.Runs) != fmt.Sprint(wantRuns) {
		t.Errorf("Runs =\n%v\nwant\n%v", h.Runs, wantRuns)
	}
	durations := map[string][]time.Duration{}
	for _, d := range h.Durations {
		key := d.PipelineID + " " + d.Day.Format("01-02")
		durations[key] = append(durations[key], d.Duration)
	}
	for _, ds := range durations {
		slices.Sort(ds)
	}
	if got, want := fmt.Sprint(durations), fmt.Sprint(map[string][]time.Duration{
		"cap 03-01": {40 * time.Minute, 110 * time.Minute}, "other 03-02": {time.Minute},
	}); got != want {
		t.Errorf("Durations = %v, want %v", got, want)
	}
	wantPool := map[int]float64{0: 3600, 12: 3600, 23: 3600, 24: 7200, 25: 1800, 34: 720, 70: 7200}
	gotPool := map[int]float64{}
	for _, ph := range h.PoolHours {
		if ph.Pool != "wh" || ph.PipelineID != "cap" {
			t.Errorf("slot use of pool %q by %q, want only wh by cap", ph.Pool, ph.PipelineID)
		}
		gotPool[int(ph.Hour.Sub(day0)/time.Hour)] = ph.SlotSeconds
	}
	if fmt.Sprint(gotPool) != fmt.Sprint(wantPool) {
		t.Errorf("PoolHours by hour = %v, want %v", gotPool, wantPool)
	}
	wantMetrics := []store.MetricDay{
		{PipelineID: "cap", TaskID: "work", Name: "bad", Day: day0, Invalid: 1, Example: "n/a"},
		{PipelineID: "cap", TaskID: "work", Name: "rows", Day: day0, Count: 2, Sum: 350, Min: 100, Max: 250},
		{PipelineID: "other", TaskID: "x", Name: "rows", Day: at(1, "0:0"), Count: 1, Sum: 5, Min: 5, Max: 5},
	}
	if fmt.Sprint(h.Metrics) != fmt.Sprint(wantMetrics) {
		t.Errorf("Metrics =\n%v\nwant\n%v", h.Metrics, wantMetrics)
	}

	// One pipeline: its runs, durations and metrics; pools stay whole.
	h, err = b.s.CapacityHistory(b.ctx, &store.CapacityHistoryParams{From: day0, To: at(3, "00:00"), Now: at(2, "23:00"), PipelineID: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Runs) != 1 || h.Runs[0].PipelineID != "other" || len(h.Durations) != 1 || len(h.Metrics) != 1 || h.Metrics[0].PipelineID != "other" {
		t.Errorf("for pipeline other: runs %v, durations %v, metrics %v", h.Runs, h.Durations, h.Metrics)
	}
	if len(h.PoolHours) != len(wantPool) {
		t.Errorf("for pipeline other: %d pool hours, want every pipeline's %d", len(h.PoolHours), len(wantPool))
	}

	// An empty store answers with nothing, and an empty window is refused.
	empty := setup(t, open)
	h, err = empty.s.CapacityHistory(empty.ctx, &store.CapacityHistoryParams{From: day0, To: at(3, "00:00")})
	if err != nil || h.Oldest != nil || len(h.PipelineOldest) != 0 || len(h.Runs)+len(h.Durations)+len(h.PoolHours)+len(h.Metrics) != 0 {
		t.Errorf("empty store: %+v, %v", h, err)
	}
	if _, err := empty.s.CapacityHistory(empty.ctx, &store.CapacityHistoryParams{From: day0, To: day0}); sluice.ErrorCode(err) != sluice.EINVALID {
		t.Errorf("empty window: %v, want EINVALID", err)
	}
}
