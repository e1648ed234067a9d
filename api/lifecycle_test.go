package api_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
)

func TestWorkers(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	viewer := s.createToken("viewer")
	var list []api.Worker
	waitFor(t, 30*time.Second, "the server's worker to announce itself", func() bool {
		s.do(request{method: "GET", path: "/api/v1/workers", token: viewer}).want(t, 200).decode(t, &list)
		return len(list) == 1
	})
	w := list[0]
	if !w.Alive || w.Draining || w.ID == "" || w.Hostname == "" || w.PID <= 0 || w.Concurrency != 16 || w.Labels == nil || w.Problems == nil {
		t.Fatalf("worker = %+v", w)
	}
	if w.StartedAt.IsZero() || w.LastSeenAt.Before(w.StartedAt) || time.Since(w.LastSeenAt) > time.Minute {
		t.Fatalf("worker times = %+v", w)
	}
}

func TestMissingAndDeleteWithFile(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"gone.yaml": manualPipeline, "kept.yaml": strings.Replace(manualPipeline, "id: manual", "id: kept", 1)})
	if err := os.Remove(filepath.Join(s.pipes, "gone.yaml")); err != nil {
		t.Fatal(err)
	}
	var p api.PipelineDetail
	waitFor(t, 30*time.Second, "the pipeline to be missing", func() bool {
		s.asAdmin("GET", "/api/v1/pipelines/manual", nil).want(t, 200).decode(t, &p)
		return p.Missing
	})
	var list []api.Pipeline
	s.asAdmin("GET", "/api/v1/pipelines", nil).want(t, 200).decode(t, &list)
	if len(list) != 2 || list[0].ID != "kept" || list[0].Missing || list[1].ID != "manual" || !list[1].Missing {
		t.Fatalf("list = %+v", list)
	}

	// A pipeline whose file is there: refused, unless the file goes too.
	kept := filepath.Join(s.pipes, "kept.yaml")
	s.asAdmin("DELETE", "/api/v1/pipelines/kept", nil).wantError(t, 409, "conflict")
	s.asAdmin("DELETE", "/api/v1/pipelines/kept?and_file=maybe", nil).wantError(t, 400, "bad_request")
	operator := s.createToken("operator")
	s.do(request{method: "DELETE", path: "/api/v1/pipelines/kept?and_file=true", token: operator}).wantError(t, 403, "forbidden")
	s.asAdmin("DELETE", "/api/v1/pipelines/kept?and_file=true", nil).want(t, 204)
	if _, err := os.Stat(kept); !os.IsNotExist(err) {
		t.Fatalf("the file is still there: %v", err)
	}
	s.asAdmin("GET", "/api/v1/pipelines/kept", nil).wantError(t, 404, "not_found")
	// A missing pipeline's file is gone already.
	s.asAdmin("DELETE", "/api/v1/pipelines/manual", nil).want(t, 204)
}

func TestBlockedItemsAndChildren(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"pooled.yaml": "id: pooled\ntasks:\n  load:\n    pool: later\n    run: echo loaded\n",
		"mapped.yaml": `id: mapped
tasks:
  each:
    for_each: [alpha, beta, gamma]
    run: |
      echo "item $SLUICE_ITEM_INDEX is $SLUICE_ITEM"
      echo "upper=$(echo $SLUICE_ITEM | tr a-z A-Z)" >> "$SLUICE_OUTPUT"
  after:
    depends_on: [each]
    run: echo "$SLUICE_OUTPUT_EACH_UPPER"
`,
		"parent.yaml": "id: parent\ntasks:\n  call:\n    pipeline: child\n    params: {who: parent}\n",
		"child.yaml":  "id: child\nparams:\n  who: {type: string, default: nobody}\ntasks:\n  hello:\n    run: echo \"hello from $SLUICE_PARAM_WHO\"\n",
	})

	// A task whose pool does not exist waits, and says why.
	pooled := s.trigger("pooled", nil)
	var d api.RunDetail
	waitFor(t, 60*time.Second, "the task to be blocked", func() bool {
		s.asAdmin("GET", fmt.Sprint("/api/v1/runs/", pooled.ID), nil).want(t, 200).decode(t, &d)
		return d.Tasks[0].Blocked != ""
	})
	if !strings.Contains(d.Tasks[0].Blocked, "pool later does not exist") || d.Tasks[0].State != "queued" {
		t.Fatalf("blocked task = %+v", d.Tasks[0])
	}
	var td api.TaskDetail
	s.asAdmin("GET", fmt.Sprintf("/api/v1/runs/%d/tasks/load", pooled.ID), nil).want(t, 200).decode(t, &td)
	if td.Blocked != d.Tasks[0].Blocked || td.MapIndex != nil || td.Items != nil {
		t.Fatalf("blocked task detail = %+v", td)
	}
	s.asAdmin("PUT", "/api/v1/pools/later", api.PoolSet{Slots: ptr(1)}).want(t, 200)
	d = s.waitRun(pooled.ID, "success")
	if d.Tasks[0].Blocked != "" && d.Tasks[0].State != "success" {
		t.Fatalf("after the pool = %+v", d.Tasks[0])
	}

	// A mapped task: its items under it, each with its own detail and log.
	mapped := s.trigger("mapped", nil)
	d = s.waitRun(mapped.ID, "success")
	if len(d.Tasks) != 2 || d.Tasks[0].Task != "each" || d.Tasks[1].Task != "after" {
		t.Fatalf("tasks = %+v", d.Tasks)
	}
	each := d.Tasks[0]
	if each.ItemsTotal != 3 || len(each.Items) != 3 || d.Tasks[1].Items != nil {
		t.Fatalf("mapped task = %+v", each)
	}
	for i, want := range []string{"alpha", "beta", "gamma"} {
		if it := each.Items[i]; it.MapIndex != i || it.Item != want || it.State != "success" || it.Attempts != 1 || it.DurationSeconds == nil {
			t.Fatalf("item %d = %+v", i, it)
		}
	}
	path := fmt.Sprintf("/api/v1/runs/%d/tasks/each", mapped.ID)
	s.asAdmin("GET", path, nil).want(t, 200).decode(t, &td)
	if td.ItemsTotal != 3 || len(td.Items) != 3 || td.Outputs["upper"] != `["ALPHA","BETA","GAMMA"]` {
		t.Fatalf("mapped task detail = %+v", td)
	}
	td = api.TaskDetail{}
	s.asAdmin("GET", path+"?item=1", nil).want(t, 200).decode(t, &td)
	if td.MapIndex == nil || *td.MapIndex != 1 || td.Item == nil || *td.Item != "beta" || td.State != "success" || len(td.Attempts) != 1 || td.Outputs["upper"] != "BETA" || td.Items != nil {
		t.Fatalf("item 1 = %+v", td)
	}
	logs := s.asAdmin("GET", fmt.Sprintf("/api/v1/runs/%d/tasks/each/logs?item=2", mapped.ID), nil).want(t, 200)
	if !strings.Contains(string(logs.body), "item 2 is gamma") || strings.Contains(string(logs.body), "beta") {
		t.Fatalf("log of item 2:\n%s", logs.body)
	}
	events := s.stream(fmt.Sprintf("/api/v1/runs/%d/tasks/each/logs?item=0&follow=true", mapped.ID), nil)
	if l := logLine(t, next(t, events)); l.Line != "item 0 is alpha" {
		t.Fatalf("followed item 0: %+v", l)
	}
	s.asAdmin("GET", path+"?item=3", nil).wantError(t, 404, "not_found")
	s.asAdmin("GET", path+"?item=-1", nil).wantError(t, 400, "bad_request")
	s.asAdmin("GET", path+"?item=x", nil).wantError(t, 400, "bad_request")
	s.asAdmin("GET", fmt.Sprintf("/api/v1/runs/%d/tasks/after?item=0", mapped.ID), nil).wantError(t, 404, "not_found")
	s.asAdmin("GET", fmt.Sprintf("/api/v1/runs/%d/tasks/each/logs?item=7", mapped.ID), nil).wantError(t, 404, "not_found")

	// A pipeline: task's run lists its child, and the child its parent.
	parent := s.trigger("parent", nil)
	d = s.waitRun(parent.ID, "success")
	if d.ParentRunID != nil || len(d.Children) != 1 {
		t.Fatalf("parent = %+v", d)
	}
	child := d.Children[0]
	if child.Pipeline != "child" || child.ParentRunID == nil || *child.ParentRunID != parent.ID || child.ParentTask != "call" || child.State != "success" {
		t.Fatalf("child = %+v", child)
	}
	var cd api.RunDetail
	s.asAdmin("GET", fmt.Sprint("/api/v1/runs/", child.ID), nil).want(t, 200).decode(t, &cd)
	if cd.ParentRunID == nil || *cd.ParentRunID != parent.ID || len(cd.Children) != 0 || !cd.LogicalDate.Equal(d.LogicalDate) {
		t.Fatalf("child detail = %+v", cd)
	}
	var page api.RunList
	s.asAdmin("GET", query("/api/v1/runs", "pipeline", "child"), nil).want(t, 200).decode(t, &page)
	if len(page.Runs) != 1 || page.Runs[0].ParentTask != "call" {
		t.Fatalf("child in the list = %+v", page.Runs)
	}
}
