package capacity_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/capacity"
	"github.com/sluice-dev/sluice/capacity/capacitytest"
	"github.com/sluice-dev/sluice/sluicetest"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// TestLoad runs the whole path on a real store: 30 days of synthetic
// history, read back through the store's aggregates and forecast.
func TestLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := sluicetest.NewClock(end)
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := capacitytest.Seed(ctx, st, clock, capacitytest.Options{End: end, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	th, _ := capacity.ParseThreshold("daily_orders.load.rows=2M")
	r, err := capacity.Load(ctx, st, capacity.Options{Now: end.Add(6 * time.Hour), Thresholds: []capacity.Threshold{th}})
	if err != nil {
		t.Fatal(err)
	}
	if !r.To.Equal(end) || r.Days != 28 {
		t.Errorf("window to %s, %d days", r.To, r.Days)
	}
	var msgs []string
	for _, f := range r.Forecasts() {
		msgs = append(msgs, f.Subject+": "+string(f.Status)+": "+f.Message)
	}
	all := strings.Join(msgs, "\n")
	t.Logf("forecasts:\n%s\nnotes: %q", all, r.Notes)

	byID := map[string]*capacity.PipelineTrend{}
	for _, p := range r.Pipelines {
		byID[p.ID] = p
	}
	ev := byID["events"]
	if ev == nil || ev.Interval != 2*time.Hour || ev.Runs != 28*12 || ev.Overrun == nil {
		t.Fatalf("events: %+v", ev)
	}
	// ingest takes 60m + 72s a day (±5%): its p95 passes 2h about 50 days
	// after the start, 20 days after the end.
	if ev.Overrun.Status != capacity.StatusDate || ev.Overrun.Days < 15 || ev.Overrun.Days > 25 {
		t.Errorf("events' overrun: %+v", ev.Overrun)
	}
	if ml := byID["ml_features"]; ml == nil || ml.Overrun == nil || ml.Overrun.Status != capacity.StatusNoGrowth {
		t.Errorf("ml_features, flat 90m every 6h: %+v", ml.Overrun)
	}
	// The history (30 days) reaches past the window (28 days, the
	// default): every day of the window counts.
	if d := byID["daily_orders"]; d == nil || len(d.RunsPerDay.Points) != 28 || d.Runs != 28 {
		t.Errorf("daily_orders: %d runs over %d days", d.Runs, len(d.RunsPerDay.Points))
	}
	var wh *capacity.PoolTrend
	for _, p := range r.Pools {
		if p.Name == "warehouse" {
			wh = p
		}
	}
	if wh == nil || wh.Slots != 4 || wh.Full == nil || wh.Full.Fit == nil || wh.Full.Fit.Slope <= 0 {
		t.Fatalf("warehouse: %+v", wh)
	}
	if len(r.Volumes) != 2 || r.Volumes[0].Key() != "daily_orders.load.rows" || r.Volumes[0].Forecast == nil ||
		r.Volumes[0].Forecast.Status != capacity.StatusDate {
		t.Errorf("volumes: %+v", r.Volumes)
	}

	// One pipeline only; an unknown one is not found.
	r, err = capacity.Load(ctx, st, capacity.Options{Now: end, PipelineID: "events"})
	if err != nil || len(r.Pipelines) != 1 || r.Pipelines[0].ID != "events" || len(r.Volumes) != 1 || len(r.Pools) != 2 {
		t.Errorf("events only: %+v, %v", r, err)
	}
	if _, err := capacity.Load(ctx, st, capacity.Options{Now: end, PipelineID: "nope"}); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Errorf("unknown pipeline: %v", err)
	}
	if _, err := capacity.Load(ctx, st, capacity.Options{Now: end, Days: 400}); sluice.ErrorCode(err) != sluice.EINVALID {
		t.Errorf("400 days: %v", err)
	}
}
