package api_test

import (
	"fmt"
	"net/url"
	"strings"
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

// TestAssetsListAndShow reads the assets through the API: the list with
// producers and consumers, one asset (its name holding / : @ + =) with
// where its consumer stands, and the answers for a bad and an unknown
// name. A viewer may read them.
func TestAssetsListAndShow(t *testing.T) {
	t.Parallel()
	const odd = "s3://bucket/k@v1+x=y"
	s := startServer(t, map[string]string{
		"make.yaml": "id: make\ntasks:\n  build:\n    run: \"true\"\n    produces: [\"" + odd + "\", warehouse.orders]\n",
		"use.yaml":  "id: use\nschedule: {assets: [\"" + odd + "\", other.thing]}\ntasks:\n  t:\n    run: \"true\"\n",
	})
	for _, id := range []string{"make", "use"} {
		waitFor(t, 30*time.Second, id+" to load", func() bool { return s.asAdmin("GET", "/api/v1/pipelines/"+id, nil).status == 200 })
	}
	viewer := s.createToken("viewer")
	var list api.AssetList
	s.do(request{method: "GET", path: "/api/v1/assets", token: viewer}).want(t, 200).decode(t, &list)
	var names []string
	for _, a := range list.Assets {
		names = append(names, a.Name)
	}
	if got := strings.Join(names, " "); got != "other.thing "+odd+" warehouse.orders" || list.NextAfter != "" {
		t.Fatalf("assets = %q (next %q)", got, list.NextAfter)
	}
	if a := list.Assets[1]; len(a.Producers) != 1 || a.Producers[0] != (api.AssetProducer{Pipeline: "make", Task: "build"}) ||
		len(a.Consumers) != 1 || a.Consumers[0] != "use" || a.LastEvent != nil || a.Events != 0 {
		t.Fatalf("%s = %+v", odd, a)
	}
	s.do(request{method: "GET", path: "/api/v1/assets?limit=2", token: viewer}).want(t, 200).decode(t, &list)
	if len(list.Assets) != 2 || list.NextAfter != odd {
		t.Fatalf("first page of 2 = %+v", list)
	}
	list = api.AssetList{}
	s.do(request{method: "GET", path: "/api/v1/assets?limit=2&after=" + url.QueryEscape(odd), token: viewer}).want(t, 200).decode(t, &list)
	if len(list.Assets) != 1 || list.Assets[0].Name != "warehouse.orders" || list.NextAfter != "" {
		t.Fatalf("second page = %+v", list)
	}

	run := s.trigger("make", nil)
	s.waitRun(run.ID, "success")
	path := "/api/v1/assets/" + url.PathEscape(odd)
	var d api.AssetDetail
	s.do(request{method: "GET", path: path, token: viewer}).want(t, 200).decode(t, &d)
	if d.Name != odd || d.Events != 1 || d.LastEvent == nil || d.LastEvent.RunID == nil || *d.LastEvent.RunID != run.ID ||
		len(d.RecentEvents) != 1 || len(d.ConsumerStatus) != 1 || !d.ConsumerStatus[0].Fresh || d.ConsumerStatus[0].Pipeline != "use" {
		t.Fatalf("detail = %+v", d)
	}

	// The other asset completes use: its run names both events it
	// consumed, the first with the run that produced it.
	var res api.AssetEventResult
	s.asAdmin("POST", "/api/v1/assets/other.thing/events", api.AssetEventRequest{}).want(t, 201).decode(t, &res)
	if len(res.Runs) != 1 || res.Runs[0].Pipeline != "use" {
		t.Fatalf("emit other.thing = %+v, want a run of use", res)
	}
	var rd api.RunDetail
	s.do(request{method: "GET", path: fmt.Sprintf("/api/v1/runs/%d", res.Runs[0].ID), token: viewer}).want(t, 200).decode(t, &rd)
	if len(rd.Triggers) != 1 || rd.Triggers[0].Source != "assets" || len(rd.Triggers[0].Assets) != 2 {
		t.Fatalf("triggers of use's run = %+v", rd.Triggers)
	}
	other, made := rd.Triggers[0].Assets[0], rd.Triggers[0].Assets[1]
	if other.Asset != "other.thing" || other.Event == nil || other.Event.RunID != nil || other.EventID != res.Event.ID ||
		made.Asset != odd || made.Event == nil || made.Event.RunID == nil || *made.Event.RunID != run.ID {
		t.Fatalf("consumed = %+v, %+v", other, made)
	}
	s.asAdmin("GET", fmt.Sprintf("/api/v1/runs/%d", run.ID), nil).want(t, 200).decode(t, &rd)
	if len(rd.Triggers) != 0 {
		t.Fatalf("a manual run's triggers = %+v", rd.Triggers)
	}

	s.do(request{method: "GET", path: "/api/v1/assets/has%20space", token: viewer}).wantError(t, 422, "invalid")
	e := s.do(request{method: "GET", path: "/api/v1/assets/no.such.asset", token: viewer}).wantError(t, 404, "not_found")
	if !strings.Contains(e.Message, "no.such.asset") {
		t.Fatalf("404 message = %q, want it to name the asset", e.Message)
	}
	s.do(request{method: "GET", path: "/api/v1/assets?limit=x", token: viewer}).wantError(t, 400, "bad_request")
}

// TestAssetEventKey: an outside event sent again with the same
// Idempotency-Key (or body key) is the first one: 200, repeat, no second
// run of the pipeline it started.
func TestAssetEventKey(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"cons.yaml": "id: cons\nschedule: {assets: [partner.drop]}\ntasks:\n  a:\n    run: \"true\"\n",
	})
	waitFor(t, 30*time.Second, "cons to load", func() bool { return s.asAdmin("GET", "/api/v1/pipelines/cons", nil).status == 200 })
	tok := s.createToken("operator")
	send := func(status int, header map[string]string, body any) api.AssetEventResult {
		t.Helper()
		var res api.AssetEventResult
		s.do(request{method: "POST", path: "/api/v1/assets/partner.drop/events", json: body, token: tok, header: header}).want(t, status).decode(t, &res)
		return res
	}
	first := send(201, map[string]string{"Idempotency-Key": "delivery-7"}, map[string]any{"extra": map[string]string{"rows": "5"}})
	if first.Repeat || len(first.Runs) != 1 {
		t.Fatalf("first = %+v", first)
	}
	again := send(200, map[string]string{"Idempotency-Key": "delivery-7"}, map[string]any{"extra": map[string]string{"rows": "5"}})
	if !again.Repeat || again.Event.ID != first.Event.ID || len(again.Runs) != 0 {
		t.Fatalf("again = %+v", again)
	}
	byBody := send(200, nil, map[string]any{"key": "delivery-7"})
	if !byBody.Repeat || byBody.Event.ID != first.Event.ID {
		t.Fatalf("the key in the body = %+v", byBody)
	}
	var list api.RunList
	s.asAdmin("GET", "/api/v1/runs?pipeline=cons", nil).want(t, 200).decode(t, &list)
	if len(list.Runs) != 1 {
		t.Fatalf("cons has %d runs, want 1", len(list.Runs))
	}
}
