package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/store"
)

const groupsPipeline = `id: grp
groups:
  load: {description: Load the warehouse}
tasks:
  extract: {run: echo e}
  facts: {group: load, depends_on: [extract], run: echo f}
  dims: {group: load, depends_on: [extract], run: echo d}
`

// TestGroupPages: without any script, the grid and graph show a group
// closed, the links open and close it, the live fragments keep the
// view, and the run page heads the group's tasks with a Clear group link
// for all of them.
func TestGroupPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("ada", store.RoleAdmin)
	b.upload("grp.yaml", groupsPipeline)
	run, err := b.ctl.Trigger(b.ctx, "grp", nil, "test")
	must(t, err)
	b.runToEnd("done")
	c := b.login("ada")
	get := func(path string) string {
		t.Helper()
		st, body := c.get(path)
		if st != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, st, shorten(body))
		}
		return body
	}

	grid := get("/pipelines/grp")
	wantContains(t, "grid", grid, `class="group-row" data-group="load"`, `href="/pipelines/grp?open=load"`, `aria-expanded="false"`, "st-success")
	wantNotContains(t, "grid", grid, `class="in-group"`, `/tasks/facts`)
	grid = get("/pipelines/grp?open=load")
	wantContains(t, "open grid", grid, `class="group-row open"`, `href="/pipelines/grp"`, `class="in-group" data-group="load"`, `/tasks/facts`, `/tasks/dims`,
		`hx-get="/pipelines/grp/live/grid?open=load"`)
	wantContains(t, "live grid", get("/pipelines/grp/live/grid?open=load"), `href="/pipelines/grp"`, `/tasks/facts`)

	graph := get("/pipelines/grp/graph")
	wantContains(t, "graph", graph, `class="node st-success group-node" data-group="load"`, "2 tasks", `href="/pipelines/grp/graph?open=load"`,
		fmt.Sprintf(`href="/runs/%d/clear?task=dims&amp;task=facts"`, run.ID))
	wantNotContains(t, "graph", graph, `class="frame`, `/tasks/facts"`)
	graph = get(fmt.Sprintf("/pipelines/grp/graph?run=%d&open=load", run.ID))
	wantContains(t, "open graph", graph, `class="frame st-success" data-group="load"`, "▾ load", `/tasks/facts"`,
		fmt.Sprintf(`hx-get="/pipelines/grp/live/graph?run=%d&amp;open=load"`, run.ID), `<input type="hidden" name="open" value="load">`,
		fmt.Sprintf(`href="/pipelines/grp/graph?run=%d"`, run.ID))

	page := get(fmt.Sprintf("/runs/%d", run.ID))
	wantContains(t, "run", page, `id="group-load" class="group-head" data-state="success"`, "Load the warehouse", "Clear group…",
		fmt.Sprintf(`href="/runs/%d/clear?task=dims&amp;task=facts"`, run.ID), `class="in-group" data-group="load"`)
	if i, j := strings.Index(page, `id="group-load"`), strings.Index(page, `id="task-facts"`); i < 0 || j < i {
		t.Error("the group head does not come before its tasks")
	}
	clear := get(fmt.Sprintf("/runs/%d/clear?task=dims&task=facts", run.ID))
	wantContains(t, "clear dialog", clear, `data-task="dims"`, `data-task="facts"`)
}
