package api_test

import (
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/api"
)

const (
	taggedFailing = `id: orders_daily
description: Load the ORDERS into the warehouse
tags: [finance, orders]
tasks:
  boom:
    run: exit 3
`
	taggedHello = `id: hello
description: Says hello
tags: demo
tasks:
  greet:
    run: echo hello
`
	untagged = `id: idle
tasks:
  a:
    run: echo idle
`
)

// TestPipelineFilters lists pipelines by tag, last run state, paused and
// a search of id and description.
func TestPipelineFilters(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"orders.yaml": taggedFailing, "hello.yaml": taggedHello, "idle.yaml": untagged})
	s.waitRun(s.trigger("orders_daily", nil).ID, "failed")
	s.waitRun(s.trigger("hello", nil).ID, "success")
	s.asAdmin("POST", "/api/v1/pipelines/idle/pause", nil).want(t, 200)

	ids := func(query string) []string {
		t.Helper()
		var list []api.Pipeline
		s.asAdmin("GET", "/api/v1/pipelines"+query, nil).want(t, 200).decode(t, &list)
		out := []string{}
		for _, p := range list {
			out = append(out, p.ID)
		}
		return out
	}
	for query, want := range map[string][]string{
		"":                            {"hello", "idle", "orders_daily"},
		"?tag=finance":                {"orders_daily"},
		"?tag=finance,demo":           {"hello", "orders_daily"},
		"?tag=finance&tag=demo":       {"hello", "orders_daily"},
		"?state=failed":               {"orders_daily"},
		"?state=success,none":         {"hello", "idle"},
		"?paused=true":                {"idle"},
		"?paused=false":               {"hello", "orders_daily"},
		"?search=orders":              {"orders_daily"},
		"?search=HELLO":               {"hello"},
		"?search=warehouse":           {"orders_daily"},
		"?tag=demo&state=failed":      {},
		"?tag=orders&search=the+ord":  {"orders_daily"},
		"?tag=nosuchtag":              {},
		"?paused=false&state=success": {"hello"},
	} {
		if got := ids(query); !slices.Equal(got, want) {
			t.Errorf("GET /api/v1/pipelines%s = %v, want %v", query, got, want)
		}
	}
	var list []api.Pipeline
	s.asAdmin("GET", "/api/v1/pipelines?tag=finance", nil).want(t, 200).decode(t, &list)
	if len(list) != 1 || !slices.Equal(list[0].Tags, []string{"finance", "orders"}) || len(list[0].RecentRuns) != 1 || list[0].RecentRuns[0].State != "failed" {
		t.Fatalf("orders_daily = %+v", list)
	}
	// Pages: by id, with the count of all that pass the filters.
	resp := s.asAdmin("GET", "/api/v1/pipelines?limit=1&offset=1", nil).want(t, 200)
	resp.decode(t, &list)
	if len(list) != 1 || list[0].ID != "idle" || resp.header.Get("X-Total-Count") != "3" {
		t.Errorf("limit=1&offset=1: %d pipelines (%v), total %q", len(list), list, resp.header.Get("X-Total-Count"))
	}
	if got := ids("?offset=5"); len(got) != 0 {
		t.Errorf("offset past the end: %v", got)
	}
	s.asAdmin("GET", "/api/v1/pipelines?limit=-1", nil).wantError(t, 400, "bad_request")
	e := s.asAdmin("GET", "/api/v1/pipelines?state=broken", nil).wantError(t, 400, "bad_request")
	if e.Message != `state "broken": want the state of the last run: queued, running, success, failed, cancelled, or none for no runs` {
		t.Errorf("bad state: %q", e.Message)
	}
	s.asAdmin("GET", "/api/v1/pipelines?paused=maybe", nil).wantError(t, 400, "bad_request")
}
