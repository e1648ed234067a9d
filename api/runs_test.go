package api_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/api"
)

const paramsPipeline = `id: params
params:
  count: {type: int, required: true}
  region: {type: enum, values: [eu, us], default: eu}
tasks:
  first:
    run: |
      echo "count=$SLUICE_PARAM_COUNT"
      echo "greeting=hello $SLUICE_PARAM_REGION" >> "$SLUICE_OUTPUT"
  second:
    depends_on: [first]
    run: echo second
`

func TestTriggerAndRuns(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"params.yaml": paramsPipeline, "manual.yaml": manualPipeline})
	trigger := func(params map[string]any) *response {
		return s.asAdmin("POST", "/api/v1/pipelines/params/runs", api.TriggerRequest{Params: params})
	}
	// Params are checked by type; every problem is named.
	for _, bad := range []map[string]any{
		{"count": "many"},
		{"count": 1.5},
		{"count": 3, "region": "mars"},
		{"count": 3, "nope": 1},
		{"region": "eu"},
	} {
		r := trigger(bad)
		e := r.wantError(t, 422, "invalid")
		problems, ok := e.Details.(map[string]any)
		if !ok || len(problems) == 0 {
			t.Errorf("%v: details %v", bad, e.Details)
		}
	}
	s.asAdmin("POST", "/api/v1/pipelines/nope/runs", nil).wantError(t, 404, "not_found")
	s.do(request{method: "POST", path: "/api/v1/pipelines/params/runs", raw: []byte(`{"params": [1]}`), contentType: "application/json", token: s.admin}).wantError(t, 400, "bad_request")

	r := trigger(map[string]any{"count": "3", "region": "us"}).want(t, 201)
	var run api.Run
	r.decode(t, &run)
	if r.header.Get("Location") != fmt.Sprint("/api/v1/runs/", run.ID) || run.Pipeline != "params" || run.Kind != "manual" || string(run.Params) != `{"count":3,"region":"us"}` {
		t.Fatalf("run = %+v (Location %q)", run, r.header.Get("Location"))
	}
	d := s.waitRun(run.ID, "success")
	if len(d.Tasks) != 2 || d.Tasks[0].Task != "first" || d.Tasks[1].Task != "second" || d.Tasks[0].State != "success" || d.Tasks[0].Attempts != 1 {
		t.Fatalf("run detail = %+v", d)
	}
	if d.StartedAt == nil || d.FinishedAt == nil || d.DurationSeconds == nil || *d.DurationSeconds < 0 || d.Tasks[1].DurationSeconds == nil {
		t.Fatalf("run times = %+v", d)
	}

	// A task: its attempts and outputs.
	var td api.TaskDetail
	s.asAdmin("GET", fmt.Sprintf("/api/v1/runs/%d/tasks/first", run.ID), nil).want(t, 200).decode(t, &td)
	if td.Run != run.ID || td.State != "success" || len(td.Attempts) != 1 || td.Outputs["greeting"] != "hello us" {
		t.Fatalf("task = %+v", td)
	}
	if a := td.Attempts[0]; a.Number != 1 || a.State != "success" || a.Worker == "" || a.ExitCode == nil || *a.ExitCode != 0 || a.FinishedAt == nil {
		t.Fatalf("attempt = %+v", a)
	}
	s.asAdmin("GET", fmt.Sprintf("/api/v1/runs/%d/tasks/nope", run.ID), nil).wantError(t, 404, "not_found")
	s.asAdmin("GET", "/api/v1/runs/999999", nil).wantError(t, 404, "not_found")
	s.asAdmin("GET", "/api/v1/runs/999999/tasks/first", nil).wantError(t, 404, "not_found")

	// A finished run cannot be cancelled.
	e := s.asAdmin("POST", fmt.Sprintf("/api/v1/runs/%d/cancel", run.ID), nil).wantError(t, 409, "conflict")
	if !strings.Contains(e.Message, "finished") {
		t.Errorf("409 message %q", e.Message)
	}
	s.asAdmin("POST", "/api/v1/runs/999999/cancel", nil).wantError(t, 404, "not_found")

	// Listing: filters and pages.
	var ids []int64
	ids = append(ids, run.ID)
	for range 3 {
		ids = append(ids, s.trigger("manual", nil).ID)
	}
	for _, id := range ids {
		s.waitRun(id, "success")
	}
	var page api.RunList
	s.asAdmin("GET", "/api/v1/runs", nil).want(t, 200).decode(t, &page)
	if len(page.Runs) != 4 || page.NextBefore != nil || page.Runs[0].ID != ids[3] {
		t.Fatalf("all runs = %+v", page)
	}
	s.asAdmin("GET", query("/api/v1/runs", "pipeline", "params"), nil).want(t, 200).decode(t, &page)
	if len(page.Runs) != 1 || page.Runs[0].ID != run.ID {
		t.Fatalf("runs of params = %+v", page)
	}
	s.asAdmin("GET", query("/api/v1/runs", "state", "failed", "state", "running"), nil).want(t, 200).decode(t, &page)
	if len(page.Runs) != 0 {
		t.Fatalf("failed or running runs = %+v", page)
	}
	s.asAdmin("GET", query("/api/v1/runs", "state", "success,failed", "pipeline", "manual", "limit", "2"), nil).want(t, 200).decode(t, &page)
	if len(page.Runs) != 2 || page.NextBefore == nil || *page.NextBefore != ids[2] {
		t.Fatalf("first page = %+v", page)
	}
	s.asAdmin("GET", query("/api/v1/runs", "pipeline", "manual", "limit", "2", "before", fmt.Sprint(*page.NextBefore)), nil).want(t, 200).decode(t, &page)
	if len(page.Runs) != 1 || page.Runs[0].ID != ids[1] || page.NextBefore != nil {
		t.Fatalf("last page = %+v", page)
	}
	s.asAdmin("GET", query("/api/v1/runs", "state", "exploded"), nil).wantError(t, 400, "bad_request")
	s.asAdmin("GET", query("/api/v1/runs", "limit", "lots"), nil).wantError(t, 400, "bad_request")
	s.asAdmin("GET", query("/api/v1/runs", "before", "-1"), nil).wantError(t, 400, "bad_request")
	s.asAdmin("GET", query("/api/v1/runs", "limit", "100000"), nil).want(t, 200)
}

// TestListParams: a list param given as a JSON array maps a task, a bad
// item is a 422 naming the param.
func TestListParams(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"lp.yaml": "id: lp\nparams:\n  ids: {type: list, items: int}\ntasks:\n  each:\n    for_each: ${{ params.ids }}\n    run: echo $SLUICE_ITEM\n",
	})
	run := s.trigger("lp", map[string]any{"ids": []any{1, 2, 3}})
	d := s.waitRun(run.ID, "success")
	if len(d.Tasks) != 1 || d.Tasks[0].ItemsTotal != 3 || d.Tasks[0].Items[2].Item != "3" {
		t.Fatalf("tasks = %+v", d.Tasks)
	}
	if !strings.Contains(string(d.Params), `"ids":[1,2,3]`) {
		t.Fatalf("params = %s", d.Params)
	}
	body := s.asAdmin("POST", "/api/v1/pipelines/lp/runs", map[string]any{"params": map[string]any{"ids": []any{1, "x"}}}).wantError(t, 422, "invalid")
	if !strings.Contains(body.Message, `param "ids": item 2: want an int, got "x"`) {
		t.Fatalf("error = %+v", body)
	}
}

// TestAllowFailure: a run whose only failure is allowed succeeds, and
// the task says it allows failure.
func TestAllowFailure(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"af.yaml": "id: af\ntasks:\n  try:\n    allow_failure: true\n    run: exit 3\n  alert:\n    depends_on: [try]\n    trigger_rule: one_failed\n    run: echo alert\n",
	})
	run := s.trigger("af", nil)
	d := s.waitRun(run.ID, "success", "failed")
	if d.State != "success" {
		t.Fatalf("run = %s, want success", d.State)
	}
	got := map[string]api.TaskInstance{}
	for _, ti := range d.Tasks {
		got[ti.Task] = ti
	}
	if got["try"].State != "failed" || !got["try"].AllowFailure || got["alert"].State != "success" || got["alert"].AllowFailure {
		t.Fatalf("tasks = %+v", d.Tasks)
	}
}

// TestClearAndMarkWithOptions: the clear and mark endpoints with
// Airflow's options, and their errors as JSON.
func TestClearAndMarkWithOptions(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"chain.yaml": "id: chain\ntasks:\n  a:\n    run: echo a\n  b:\n    depends_on: [a]\n    run: echo b\n",
	})
	first := s.trigger("chain", nil)
	s.waitRun(first.ID, "success")
	run := s.trigger("chain", nil)
	s.waitRun(run.ID, "success")
	path := fmt.Sprintf("/api/v1/runs/%d/clear", run.ID)
	var res api.SelectionResult
	s.asAdmin("POST", path, api.ClearRequest{Selection: api.Selection{Tasks: []string{"a"}, Downstream: true, Past: true, DryRun: true}}).want(t, 200).decode(t, &res)
	if !res.DryRun || res.Count != 4 || res.Instances[0].Run != first.ID || res.Instances[0].Task != "a" || res.Instances[0].State != "success" {
		t.Fatalf("dry run = %+v", res)
	}
	if d := s.waitRun(run.ID, "success"); d.State != "success" {
		t.Fatalf("a dry run changed the run: %s", d.State)
	}
	s.asAdmin("POST", path, api.ClearRequest{Selection: api.Selection{Tasks: []string{"b"}}}).want(t, 200).decode(t, &res)
	if res.DryRun || res.Count != 1 || res.Instances[0].Task != "b" {
		t.Fatalf("clear = %+v", res)
	}
	s.waitRun(run.ID, "success")
	s.asAdmin("POST", fmt.Sprintf("/api/v1/runs/%d/mark", run.ID), api.MarkSetRequest{Selection: api.Selection{Tasks: []string{"a"}, Downstream: true}, State: "failed"}).
		want(t, 200).decode(t, &res)
	if res.Count != 2 {
		t.Fatalf("mark = %+v", res)
	}
	s.waitRun(run.ID, "failed")
	s.asAdmin("POST", path, api.ClearRequest{Selection: api.Selection{}}).wantError(t, 422, "invalid")
	s.asAdmin("POST", path, api.ClearRequest{Selection: api.Selection{Tasks: []string{"nope"}}}).wantError(t, 404, "not_found")
	s.asAdmin("POST", fmt.Sprintf("/api/v1/runs/%d/clear", first.ID), api.ClearRequest{Selection: api.Selection{Tasks: []string{"a"}}, OnlyFailed: true}).wantError(t, 409, "conflict")
	s.asAdmin("POST", fmt.Sprintf("/api/v1/runs/%d/mark", run.ID), api.MarkSetRequest{Selection: api.Selection{Tasks: []string{"a"}}, State: "maybe"}).wantError(t, 422, "invalid")
	s.asAdmin("POST", path, map[string]any{"tasks": []string{"a"}, "sideways": true}).wantError(t, 400, "bad_request")
}

func TestCancelRetryClearMark(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	s := startServer(t, map[string]string{
		// waits runs until the test marks, cancels or clears it.
		"waits.yaml": "id: waits\ntasks:\n  wait:\n    run: sleep 60\n  after:\n    depends_on: [wait]\n    run: echo after\n",
		// flaky fails until the gate file exists.
		"flaky.yaml": fmt.Sprintf("id: flaky\ntasks:\n  check:\n    run: test -e %q\n  after:\n    depends_on: [check]\n    run: echo after\n", gate),
	})

	// Mark a running task success by hand: it stops, and its downstream
	// task runs.
	run := s.trigger("waits", nil)
	s.waitTask(run.ID, "wait", "running")
	var ti api.TaskInstance
	s.asAdmin("POST", fmt.Sprintf("/api/v1/runs/%d/tasks/wait/mark", run.ID), api.MarkRequest{State: "success"}).want(t, 200).decode(t, &ti)
	if ti.Task != "wait" || ti.State != "success" {
		t.Fatalf("marked = %+v", ti)
	}
	d := s.waitRun(run.ID, "success")
	if d.Tasks[1].Task != "after" || d.Tasks[1].State != "success" {
		t.Fatalf("after mark = %+v", d.Tasks)
	}
	s.asAdmin("POST", fmt.Sprintf("/api/v1/runs/%d/tasks/wait/mark", run.ID), api.MarkRequest{State: "running"}).wantError(t, 422, "invalid")
	s.asAdmin("POST", fmt.Sprintf("/api/v1/runs/%d/tasks/wait/mark", run.ID), nil).wantError(t, 400, "bad_request")
	s.asAdmin("POST", fmt.Sprintf("/api/v1/runs/%d/tasks/nope/mark", run.ID), api.MarkRequest{State: "failed"}).wantError(t, 404, "not_found")
	// Marking a finished task failed fails the run.
	s.asAdmin("POST", fmt.Sprintf("/api/v1/runs/%d/tasks/after/mark", run.ID), api.MarkRequest{State: "failed"}).want(t, 200)
	s.waitRun(run.ID, "failed")

	// A running task cannot be cleared; its run can be cancelled, once.
	run = s.trigger("waits", nil)
	s.waitTask(run.ID, "wait", "running")
	s.asAdmin("POST", fmt.Sprintf("/api/v1/runs/%d/tasks/wait/clear", run.ID), nil).wantError(t, 409, "conflict")
	var cancelled api.Run
	s.asAdmin("POST", fmt.Sprintf("/api/v1/runs/%d/cancel", run.ID), nil).want(t, 200).decode(t, &cancelled)
	if cancelled.State != "cancelled" || cancelled.FinishedAt == nil {
		t.Fatalf("cancelled = %+v", cancelled)
	}
	d = s.waitRun(run.ID, "cancelled")
	if d.Tasks[0].State != "cancelled" || d.Tasks[1].State != "cancelled" {
		t.Fatalf("tasks of a cancelled run = %+v", d.Tasks)
	}
	s.asAdmin("POST", fmt.Sprintf("/api/v1/runs/%d/cancel", run.ID), nil).wantError(t, 409, "conflict")

	// Retry the failed tasks of a failed run.
	run = s.trigger("flaky", nil)
	d = s.waitRun(run.ID, "failed")
	if d.Tasks[0].State != "failed" || d.Tasks[1].State != "upstream_failed" {
		t.Fatalf("failed run = %+v", d.Tasks)
	}
	var td api.TaskDetail
	s.asAdmin("GET", fmt.Sprintf("/api/v1/runs/%d/tasks/check", run.ID), nil).want(t, 200).decode(t, &td)
	if a := td.Attempts[0]; a.State != "failed" || a.ExitCode == nil || *a.ExitCode != 1 || a.Error == "" {
		t.Fatalf("failed attempt = %+v", a)
	}
	var rr api.RetryResult
	s.asAdmin("POST", fmt.Sprintf("/api/v1/runs/%d/retry", run.ID), nil).want(t, 200).decode(t, &rr)
	if rr.Retried != 2 {
		t.Fatalf("retried = %+v", rr)
	}
	waitFor(t, 60e9, "the retried task to fail again", func() bool {
		d = s.waitRun(run.ID, "failed")
		return d.Tasks[0].Attempts == 2
	})
	s.asAdmin("POST", "/api/v1/runs/999999/retry", nil).wantError(t, 404, "not_found")

	// Clear the task once the gate is open: it and its downstream task run
	// again, and pass.
	writeGate(t, gate)
	s.asAdmin("POST", fmt.Sprintf("/api/v1/runs/%d/tasks/check/clear", run.ID), nil).want(t, 200).decode(t, &ti)
	if ti.Task != "check" || ti.State == "failed" {
		t.Fatalf("cleared = %+v", ti)
	}
	d = s.waitRun(run.ID, "success")
	if d.Tasks[0].Attempts != 3 || d.Tasks[1].State != "success" {
		t.Fatalf("after clear = %+v", d.Tasks)
	}
	s.asAdmin("POST", fmt.Sprintf("/api/v1/runs/%d/tasks/nope/clear", run.ID), nil).wantError(t, 404, "not_found")
}

// TestTaskGroups: a run's task instances and a pipeline's tasks carry
// their group, the pipeline its groups with their descriptions, and a
// pipeline without groups shows none.
func TestTaskGroups(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"grp.yaml":   "id: grp\ngroups:\n  load: {description: Load the warehouse}\ntasks:\n  extract:\n    run: echo e\n  facts:\n    group: load\n    depends_on: [extract]\n    run: echo f\n  dims:\n    group: load\n    depends_on: [extract]\n    run: echo d\n",
		"chain.yaml": "id: chain\ntasks:\n  a:\n    run: echo a\n",
	})
	run := s.trigger("grp", nil)
	d := s.waitRun(run.ID, "success")
	groups := map[string]string{}
	for _, ti := range d.Tasks {
		groups[ti.Task] = ti.Group
	}
	if groups["extract"] != "" || groups["facts"] != "load" || groups["dims"] != "load" {
		t.Fatalf("run tasks' groups = %v", groups)
	}
	var p struct {
		Tasks []struct {
			ID    string `json:"id"`
			Group string `json:"group"`
		} `json:"tasks"`
		Groups map[string]struct {
			Description string `json:"description"`
		} `json:"groups"`
	}
	s.asAdmin("GET", "/api/v1/pipelines/grp", nil).want(t, 200).decode(t, &p)
	if len(p.Groups) != 1 || p.Groups["load"].Description != "Load the warehouse" {
		t.Fatalf("pipeline groups = %+v", p.Groups)
	}
	for _, task := range p.Tasks {
		if want := map[string]string{"facts": "load", "dims": "load"}[task.ID]; task.Group != want {
			t.Errorf("pipeline task %s: group %q, want %q", task.ID, task.Group, want)
		}
	}
	r := s.asAdmin("GET", "/api/v1/pipelines/chain", nil).want(t, 200)
	if body := string(r.body); !strings.Contains(body, `"groups":{}`) || strings.Contains(body, `"group":`) {
		t.Errorf("a pipeline without groups: %s", body)
	}
}
