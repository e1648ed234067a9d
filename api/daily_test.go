package api_test

import (
	"slices"
	"strconv"
	"strings"
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

// TestBrowseAcrossPipelines lists runs and task instances across
// pipelines by state, tag and date range: what failed last night,
// everywhere.
func TestBrowseAcrossPipelines(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"orders.yaml": taggedFailing, "hello.yaml": taggedHello})
	failed := s.trigger("orders_daily", nil).ID
	s.waitRun(failed, "failed")
	s.waitRun(s.trigger("hello", nil).ID, "success")

	var tis api.TaskInstanceList
	s.asAdmin("GET", "/api/v1/task-instances?state=failed&since=12h", nil).want(t, 200).decode(t, &tis)
	if len(tis.TaskInstances) != 1 || tis.NextBefore != nil {
		t.Fatalf("failed since 12h = %+v", tis)
	}
	ti := tis.TaskInstances[0]
	if ti.Pipeline != "orders_daily" || ti.Run != failed || ti.Task != "boom" || ti.State != "failed" || ti.RunState != "failed" || ti.Attempts != 1 || ti.MapIndex != nil || ti.FinishedAt == nil || ti.LogicalDate.IsZero() {
		t.Errorf("failed task instance = %+v", ti)
	}
	count := func(path string) int {
		t.Helper()
		var l api.TaskInstanceList
		s.asAdmin("GET", path, nil).want(t, 200).decode(t, &l)
		return len(l.TaskInstances)
	}
	for path, want := range map[string]int{
		"/api/v1/task-instances":                         2,
		"/api/v1/task-instances?tag=demo":                1,
		"/api/v1/task-instances?pipeline=hello":          1,
		"/api/v1/task-instances?until=2020-01-01":        0,
		"/api/v1/task-instances?since=2020-01-01":        2,
		"/api/v1/task-instances?state=success,failed":    2,
		"/api/v1/task-instances?state=running":           0,
		"/api/v1/task-instances?since=2999-01-01T00:00Z": 0,
	} {
		if got := count(path); got != want {
			t.Errorf("GET %s: %d task instances, want %d", path, got, want)
		}
	}
	var page api.TaskInstanceList
	s.asAdmin("GET", "/api/v1/task-instances?limit=1", nil).want(t, 200).decode(t, &page)
	if len(page.TaskInstances) != 1 || page.NextBefore == nil || count("/api/v1/task-instances?before="+strconv.FormatInt(*page.NextBefore, 10)) != 1 {
		t.Errorf("pages: %+v", page)
	}

	var runs api.RunList
	s.asAdmin("GET", "/api/v1/runs?state=failed&since=12h&tag=finance", nil).want(t, 200).decode(t, &runs)
	if len(runs.Runs) != 1 || runs.Runs[0].ID != failed {
		t.Errorf("failed runs of finance since 12h = %+v", runs.Runs)
	}
	s.asAdmin("GET", "/api/v1/runs?tag=demo&until=2020-01-01", nil).want(t, 200).decode(t, &runs)
	if len(runs.Runs) != 0 {
		t.Errorf("runs until 2020: %+v", runs.Runs)
	}
	e := s.asAdmin("GET", "/api/v1/task-instances?since=yesterday", nil).wantError(t, 400, "bad_request")
	if !strings.Contains(e.Message, `since="yesterday": want a time ago such as 12h`) {
		t.Errorf("bad since: %q", e.Message)
	}
	s.asAdmin("GET", "/api/v1/task-instances?state=done", nil).wantError(t, 400, "bad_request")
}
