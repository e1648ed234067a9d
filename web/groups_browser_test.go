package web_test

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// groupedPipeline has two task groups; load_dims fails until the file
// marker exists, which its first attempt creates, so clearing the load
// group makes the run green.
func groupedPipeline(dir string) string {
	marker := filepath.Join(dir, "grouped-dims-ok")
	return `id: grouped
description: Task groups, collapsed and cleared
groups:
  extract: {description: Pull the sources}
  load: {description: Load the warehouse}
tasks:
  orders: {group: extract, run: echo orders}
  customers: {group: extract, run: echo customers}
  products: {group: extract, run: echo products}
  merge: {depends_on: [orders, customers, products], run: echo merge}
  load_facts: {group: load, depends_on: [merge], run: echo facts}
  load_dims:
    group: load
    depends_on: [merge]
    run: |
      if [ ! -f '` + marker + `' ]; then touch '` + marker + `'; echo "dims: the warehouse is locked" >&2; exit 1; fi
      echo dims
  report: {depends_on: [load_facts, load_dims], run: echo report}
`
}

// groupTests drives task groups: collapsed and opened in the graph and
// grid, with their aggregate state, and cleared as one from the run page.
func groupTests(t *testing.T, br *browser, srv *sluiceServer) {
	ctx := br.ctx
	base := srv.url
	var runPath string

	t.Run("task groups: the run page heads each group with its state", func(t *testing.T) {
		do(t, ctx, "open the trigger form", chromedp.Navigate(base+"/pipelines/grouped/trigger"))
		do(t, ctx, "trigger", chromedp.Click(chromedp.CSS("#trigger-form button[type=submit]")))
		waitJS(t, ctx, "the run fails", `/^\/runs\/\d+$/.test(location.pathname) && document.querySelector('#run-state').dataset.state === "failed"`, 60*time.Second)
		runPath = eval[string](t, ctx, `location.pathname`)
		waitJS(t, ctx, "group heads with aggregate states", `document.querySelector('#group-load').dataset.state === "failed" && document.querySelector('#group-extract').dataset.state === "success"`, 10*time.Second)
		// The group's tasks follow its head, in the group.
		rows := eval[string](t, ctx, `[...document.querySelectorAll('table.tasks tbody tr')].map(r => r.id.replace(/^task-/, "")).join(" ")`)
		if !regexp.MustCompile(`^group-extract( (orders|customers|products)){3} merge group-load( load_(facts|dims)){2} report$`).MatchString(rows) {
			t.Errorf("task rows %q: want each group's head, then its tasks", rows)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll('tr.in-group[data-group="load"]').length`); n != 2 {
			t.Errorf("%d rows in group load, want 2", n)
		}
		br.shot(ctx, "run-groups")
		noCSPViolations(t, ctx)
	})

	t.Run("task groups: collapse and expand in the graph", func(t *testing.T) {
		do(t, ctx, "open the graph", chromedp.Navigate(base+"/pipelines/grouped/graph"))
		// Closed by default: one node per group, with its state.
		waitJS(t, ctx, "two group nodes and two task nodes", `document.querySelectorAll('svg.dag g.node').length === 4 && document.querySelectorAll('svg.dag g.group-node').length === 2`, 20*time.Second)
		if !eval[bool](t, ctx, `document.querySelector('svg.dag g.group-node[data-group="load"]').classList.contains("st-failed") && document.querySelector('svg.dag g.group-node[data-group="extract"]').classList.contains("st-success")`) {
			t.Error("the group nodes do not show failed (load) and success (extract)")
		}
		// merge -> load, load -> report, extract -> merge.
		if n := eval[int](t, ctx, `document.querySelectorAll('svg.dag path.edge').length`); n != 3 {
			t.Errorf("%d edges between the closed groups, want 3", n)
		}
		do(t, ctx, "open group load", chromedp.Click(chromedp.CSS(`svg.dag g.group-node[data-group="load"]`)))
		waitJS(t, ctx, "load open: its tasks drawn in a frame", `location.search === "?open=load" && document.querySelectorAll('svg.dag g.node').length === 5 && document.querySelector('svg.dag g.frame[data-group="load"]') && document.querySelector('.group-chip[data-group="load"] a.group-toggle').getAttribute("aria-expanded") === "true"`, 20*time.Second)
		// The live refresh keeps the view.
		if got := eval[string](t, ctx, `document.querySelector('#graph-live').getAttribute("hx-get")`); got != "/pipelines/grouped/live/graph?open=load" {
			t.Errorf("the live graph asks for %q", got)
		}
		// Reloading keeps it: it is in the address.
		do(t, ctx, "reload", chromedp.Reload())
		waitJS(t, ctx, "still open after a reload", `document.querySelectorAll('svg.dag g.node').length === 5 && document.querySelector('svg.dag g.node.st-failed title').textContent.startsWith("load_dims")`, 20*time.Second)
		br.shot(ctx, "graph-groups")
		do(t, ctx, "close it from its chip", chromedp.Click(chromedp.CSS(`.group-chip[data-group="load"] a.group-toggle`)))
		waitJS(t, ctx, "closed again", `location.search === "" && document.querySelectorAll('svg.dag g.group-node').length === 2`, 20*time.Second)
		noCSPViolations(t, ctx)
	})

	t.Run("task groups: collapse and expand in the grid", func(t *testing.T) {
		do(t, ctx, "open the grid", chromedp.Navigate(base+"/pipelines/grouped"))
		waitJS(t, ctx, "group rows, no task rows of groups", `document.querySelectorAll('table.grid tr.group-row').length === 2 && document.querySelectorAll('table.grid tr.in-group').length === 0 && document.querySelectorAll('table.grid tbody tr').length === 4`, 20*time.Second)
		if !eval[bool](t, ctx, `document.querySelector('tr.group-row[data-group="load"] a.sq').classList.contains("st-failed")`) {
			t.Error("the load row does not show failed")
		}
		do(t, ctx, "open group extract", chromedp.Click(chromedp.CSS(`tr.group-row[data-group="extract"] a.group-toggle`)))
		waitJS(t, ctx, "its three tasks", `location.search === "?open=extract" && document.querySelectorAll('table.grid tr.in-group[data-group="extract"]').length === 3`, 20*time.Second)
		br.shot(ctx, "grid-groups")
		noCSPViolations(t, ctx)
	})

	t.Run("task groups: clear a group", func(t *testing.T) {
		do(t, ctx, "open the run", chromedp.Navigate(base+runPath))
		do(t, ctx, "open the clear dialog of group load", chromedp.Click(chromedp.CSS("#group-load a.act-clear-group")))
		// The group's tasks and, by default, their downstream (report).
		waitJS(t, ctx, "the preview", `location.pathname === "`+runPath+`/clear" && document.querySelectorAll('#selection-list tbody tr').length === 3`, 10*time.Second)
		if got := eval[string](t, ctx, `[...document.querySelectorAll('#selection-list tbody tr')].map(r => r.dataset.task).sort().join(",")`); got != "load_dims,load_facts,report" {
			t.Errorf("previewed %q, want the load group and report", got)
		}
		br.shot(ctx, "clear-group")
		do(t, ctx, "clear it", chromedp.Click(chromedp.CSS("#selection-apply button[type=submit]")))
		waitJS(t, ctx, "back on the run, cleared", `location.pathname === "`+runPath+`" && document.body.textContent.includes("3 task instances in 1 run cleared")`, 10*time.Second)
		waitJS(t, ctx, "the group and the run green", `document.querySelector('#group-load').dataset.state === "success" && document.querySelector('#run-state').dataset.state === "success"`, 60*time.Second)
		noCSPViolations(t, ctx)
	})

	t.Run("task groups: on a phone", func(t *testing.T) {
		phone := br.tab()
		do(t, phone, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		do(t, phone, "open the run", chromedp.Navigate(base+runPath))
		waitJS(t, phone, "the group heads", `document.querySelector('#group-load')`, 20*time.Second)
		if w := eval[int](t, phone, `document.documentElement.scrollWidth`); w > 400 {
			t.Errorf("the run page with groups is %dpx wide on a 390px phone: %s", w, eval[string](t, phone, wideElements))
		}
		br.shot(phone, "phone-run-groups")
	})
}
