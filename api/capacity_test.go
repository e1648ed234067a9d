package api_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/capacity/capacitytest"
)

// startSeededServer starts `sluice server` on a data dir seeded with 30
// days of synthetic history that ends today (UTC); see capacitytest.
func startSeededServer(t *testing.T) *testServer {
	t.Helper()
	s := newTestServer(t)
	if err := capacitytest.SeedDir(context.Background(), s.home, capacitytest.Options{Seed: 7}); err != nil {
		t.Fatal(err)
	}
	s.start()
	return s
}

func TestCapacity(t *testing.T) {
	t.Parallel()
	s := startSeededServer(t)
	viewer := s.createToken("viewer")

	// A viewer may read the report; every response is checked against
	// the OpenAPI document's schema by do.
	q := url.Values{"threshold": {"daily_orders.load.rows=5M", "events.ingest.events=1e5"}}
	var rep api.Capacity
	s.do(request{method: "GET", path: "/api/v1/capacity?" + q.Encode(), token: viewer}).want(t, 200).decode(t, &rep)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if rep.Days != 28 || !rep.To.Equal(today) && !rep.To.Equal(today.AddDate(0, 0, -1)) || !rep.From.Equal(rep.To.AddDate(0, 0, -28)) {
		t.Errorf("window %s to %s, %d days", rep.From, rep.To, rep.Days)
	}
	if len(rep.Pipelines) != 3 || len(rep.Pools) != 2 || len(rep.Volumes) != 2 || len(rep.Forecasts) != 7 {
		t.Fatalf("report: %d pipelines, %d pools, %d volumes, %d forecasts", len(rep.Pipelines), len(rep.Pools), len(rep.Volumes), len(rep.Forecasts))
	}
	var warehouse *api.CapacityPool
	for i := range rep.Pools {
		if rep.Pools[i].Name == "warehouse" {
			warehouse = &rep.Pools[i]
		}
	}
	if warehouse == nil || warehouse.Slots != 4 || warehouse.Full == nil || warehouse.Full.Status != "date" || warehouse.Full.Date == nil ||
		!strings.Contains(warehouse.Full.Message, "at this growth, pool `warehouse` is full from "+warehouse.Full.Date.Format(time.DateOnly)) ||
		len(warehouse.PeakUtilisation.Points) != 28 || warehouse.PeakUtilisation.Trend == nil || len(warehouse.Users) != 2 {
		t.Errorf("warehouse: %+v", warehouse)
	}
	for _, v := range rep.Volumes {
		if v.Threshold == nil || v.Forecast == nil {
			t.Errorf("volume %s without its threshold's forecast", v.Key)
		}
	}
	if f := rep.Forecasts[0]; f.Risk != "high" && f.Risk != "medium" {
		t.Errorf("most urgent forecast first, got %+v", f)
	}

	// One pipeline, fewer days.
	s.do(request{method: "GET", path: "/api/v1/capacity?pipeline=events&days=10", token: viewer}).want(t, 200).decode(t, &rep)
	if rep.Days != 10 || len(rep.Pipelines) != 1 || rep.Pipelines[0].ID != "events" || rep.Pipelines[0].IntervalSeconds == nil || *rep.Pipelines[0].IntervalSeconds != 7200 {
		t.Errorf("events, 10 days: %+v", rep.Pipelines)
	}

	// Mistakes.
	for _, tc := range []struct {
		query, code, text string
		status            int
	}{
		{"days=0", "bad_request", "days", 400},
		{"days=367", "bad_request", "at most 366", 400},
		{"threshold=rows", "bad_request", "pipeline.task.metric=value", 400},
		{"threshold=" + url.QueryEscape("daily_orders.load.rows=lots"), "bad_request", "not a number", 400},
		{"threshold=" + url.QueryEscape("daily_orders.load.bytes=5G"), "invalid", "metrics reported: daily_orders.load.rows, events.ingest.events", 422},
		{"pipeline=nope", "not_found", "nope", 404},
	} {
		e := s.do(request{method: "GET", path: "/api/v1/capacity?" + tc.query, token: viewer}).wantError(t, tc.status, tc.code)
		if !strings.Contains(e.Message, tc.text) {
			t.Errorf("%s: %q lacks %q", tc.query, e.Message, tc.text)
		}
	}
}

// TestCapacityEmpty: a server without history answers an empty report.
func TestCapacityEmpty(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	var rep api.Capacity
	s.do(request{method: "GET", path: "/api/v1/capacity", token: s.admin}).want(t, 200).decode(t, &rep)
	if len(rep.Pipelines)+len(rep.Pools)+len(rep.Volumes)+len(rep.Forecasts) != 0 || rep.HistoryFrom != nil || len(rep.Notes) != 1 {
		t.Errorf("empty report: %+v", rep)
	}
}

// TestCapacityNoHistoryYet: a scheduled pipeline that has not run yet has
// a forecast that says there is no history yet, and what to do.
func TestCapacityNoHistoryYet(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"later.yaml": "id: later\nschedule: \"@daily\"\nstart: 2099-01-01\ntasks:\n  a:\n    run: echo hi\n"})
	var rep api.Capacity
	s.do(request{method: "GET", path: "/api/v1/capacity", token: s.admin}).want(t, 200).decode(t, &rep)
	if len(rep.Forecasts) != 1 || rep.Forecasts[0].Risk != "unknown" ||
		!strings.Contains(rep.Forecasts[0].Message, "`later` has not run yet: no history to forecast from; a forecast of its run time needs successful runs on 7 days") {
		t.Fatalf("forecasts: %+v", rep.Forecasts)
	}
}
