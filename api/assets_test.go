package api_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
)

// TestAssetChain runs three pipelines linked by assets on the real server:
// extract produces raw.orders, transform runs on it and produces
// warehouse.orders, and report runs when warehouse.orders and
// s3://crm/customers (sent through the API) both have new events.
func TestAssetChain(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"extract.yaml": "id: extract\ntasks:\n  pull:\n    run: \"true\"\n    produces: raw.orders\n",
		"transform.yaml": "id: transform\nschedule: {assets: [raw.orders]}\n" +
			"tasks:\n  build:\n    run: \"true\"\n    produces: [warehouse.orders]\n",
		"report.yaml": "id: report\nschedule:\n  assets: [warehouse.orders, \"s3://crm/customers\"]\n" +
			"params:\n  format: {type: string, default: pdf}\ntasks:\n  render:\n    run: test \"$SLUICE_PARAM_FORMAT\" = pdf\n",
	})
	for _, id := range []string{"extract", "transform", "report"} {
		waitFor(t, 30*time.Second, id+" to load", func() bool { return s.asAdmin("GET", "/api/v1/pipelines/"+id, nil).status == 200 })
	}
	runsOf := func(pipeline string) []api.Run {
		var list api.RunList
		s.asAdmin("GET", "/api/v1/runs?pipeline="+pipeline, nil).want(t, 200).decode(t, &list)
		return list.Runs
	}

	s.trigger("extract", nil)
	var transform api.Run
	waitFor(t, 30*time.Second, "transform to run on raw.orders", func() bool {
		runs := runsOf("transform")
		if len(runs) == 1 {
			transform = runs[0]
		}
		return len(runs) == 1
	})
	if transform.Kind != "asset" {
		t.Fatalf("transform run = %+v, want kind asset", transform)
	}
	s.waitRun(transform.ID, "success")
	var events []api.AssetEvent
	s.asAdmin("GET", "/api/v1/assets/warehouse.orders/events", nil).want(t, 200).decode(t, &events)
	if len(events) != 1 || events[0].Pipeline != "transform" || events[0].Task != "build" || events[0].RunID == nil || *events[0].RunID != transform.ID {
		t.Fatalf("warehouse.orders events = %+v", events)
	}
	if runs := runsOf("report"); len(runs) != 0 {
		t.Fatalf("report ran with one of its two assets: %+v", runs)
	}

	// The other asset, from outside: report runs at once, with its params'
	// defaults. A viewer may not send events; a bad name is refused.
	path := "/api/v1/assets/" + url.PathEscape("s3://crm/customers") + "/events"
	s.do(request{method: "POST", path: path, token: s.createToken("viewer"), json: api.AssetEventRequest{}}).wantError(t, 403, "forbidden")
	s.asAdmin("POST", "/api/v1/assets/has%20space/events", api.AssetEventRequest{}).wantError(t, 422, "invalid")
	var res api.AssetEventResult
	s.do(request{method: "POST", path: path, token: s.createToken("operator"), json: api.AssetEventRequest{Extra: map[string]string{"rows": "12"}}}).
		want(t, 201).decode(t, &res)
	if res.Event.Asset != "s3://crm/customers" || res.Event.Extra["rows"] != "12" || res.Event.Pipeline != "" || len(res.Runs) != 1 || res.Runs[0].Pipeline != "report" {
		t.Fatalf("emit = %+v", res)
	}
	if d := s.waitRun(res.Runs[0].ID, "success", "failed"); d.State != "success" {
		t.Fatalf("report run ended %s", d.State)
	}
	// Sent again, it completes nothing: warehouse.orders has no new event.
	s.asAdmin("POST", path, nil).want(t, 201).decode(t, &res)
	if len(res.Runs) != 0 || len(runsOf("report")) != 1 {
		t.Fatalf("second customers event ran %+v", res.Runs)
	}
}
