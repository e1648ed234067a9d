package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// The pages of the engine's features: pools, variables, secrets, workers,
// backfills, and what the pipeline and run pages say about a pipeline's
// file, blocked tasks, parent and child runs and callbacks.

const evil = `<script>alert(1)</script>`

// setupBox is setup for a server that holds a secret key (nil: none).
func setupBox(t *testing.T, box *secret.Box) *testBundle {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	au := auth.New(auth.Config{Store: st, Logger: quiet})
	srv := httptest.NewServer(server.Handler(st, au, box, quiet))
	t.Cleanup(srv.Close)
	return &testBundle{t: t, ctx: ctx, st: st, ctl: control.New(st, nil, quiet), url: srv.URL}
}

func newBox(t *testing.T) *secret.Box {
	t.Helper()
	box, err := secret.NewBox([]byte("0123456789abcdef0123456789abcdef"))
	must(t, err)
	return box
}

// htmx are the headers of an htmx request of c.
func (c *client) htmx() []string { return []string{"HX-Request", "true", "X-CSRF-Token", c.csrf} }

func TestPools(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("otto", store.RoleOperator)
	b.user("vic", store.RoleViewer)
	b.user("ada", store.RoleAdmin)
	// Pools are the admins', as in the API: an operator sees them and
	// cannot change them.
	otto := b.login("otto")
	if st, body, _ := otto.post("/pools", otto.form("name", "warehouse", "slots", "2")); st != http.StatusForbidden || !strings.Contains(body, "needs the admin role") {
		t.Fatalf("operator creates a pool: %d\n%s", st, shorten(body))
	}
	if _, body := otto.get("/pools"); strings.Contains(body, `id="pool-form"`) || strings.Contains(body, "Operators add") {
		t.Errorf("an operator is offered the pool form:\n%s", shorten(body))
	}
	op := b.login("ada")

	st, _, resp := op.post("/pools", op.form("name", "warehouse", "slots", "2", "description", "the "+evil+" warehouse"))
	if st != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/pools?notice=") {
		t.Fatalf("create a pool: %d %q", st, resp.Header.Get("Location"))
	}
	// A task of the pool runs, another waits: the page shows the use.
	b.upload("pooled.yaml", "id: pooled\ntasks:\n  a: {run: echo a, pool: warehouse}\n  b: {run: echo b, pool: warehouse}\n  c: {run: echo c, pool: warehouse}\n")
	_, err := b.ctl.Trigger(b.ctx, "pooled", nil, "test")
	must(t, err)
	claims, err := b.st.InstanceClaim(b.ctx, &store.InstanceClaimParams{Worker: "w", Limit: 1, LeaseDuration: time.Minute})
	must(t, err)
	if len(claims) != 1 {
		t.Fatalf("claimed %d", len(claims))
	}
	st, body := op.get("/pools")
	if st != http.StatusOK {
		t.Fatalf("pools page: %d", st)
	}
	wantContains(t, "pools page", body, `id="pool-warehouse"`, `data-slots="2"`, "1/2", "2 waiting", `role="img" aria-label="1 of 2 slots in use"`,
		`<rect class="bar" width="50"`, "the &lt;script&gt;alert(1)&lt;/script&gt; warehouse", `id="pool-form"`, `/pools?edit=warehouse`, `hx-post="/pools"`)
	wantNotContains(t, "pools page", body, evil)

	// Resizing through htmx: a notice, the form fresh out of band, and
	// the list told to refresh.
	st, body, resp = op.post("/pools", url.Values{"name": {"warehouse"}, "slots": {"5"}, "editing": {"true"}}, op.htmx()...)
	if st != http.StatusOK || resp.Header.Get("HX-Trigger") != "sluice:refresh" {
		t.Fatalf("resize with htmx: %d %q\n%s", st, resp.Header.Get("HX-Trigger"), body)
	}
	wantContains(t, "resize", body, "now has 5 slots (was 2)", `id="pool-form" class="panel narrow" hx-swap-oob="outerHTML"`)
	wantNotContains(t, "resize", body, "<html")
	p, err := b.ctl.Pool(b.ctx, "warehouse")
	must(t, err)
	if p.Slots != 5 || p.Description != "" {
		t.Fatalf("pool after resize: %+v", p)
	}
	// The edit link fills the form.
	_, body = op.get("/pools?edit=warehouse")
	wantContains(t, "edit", body, "Resize pool <span class=\"mono\">warehouse</span>", `value="5"`, `readonly`)

	// Problems come back next to the form, with what was typed.
	st, body, _ = op.post("/pools", op.form("name", "ware house", "slots", "3"))
	if st != http.StatusUnprocessableEntity {
		t.Fatalf("bad name: %d", st)
	}
	wantContains(t, "bad name", body, `id="pool-problem"`, "pool name", `value="ware house"`, `value="3"`, "<html")
	st, body, resp = op.post("/pools", url.Values{"name": {"x"}, "slots": {"-1"}}, op.htmx()...)
	if st != http.StatusUnprocessableEntity || resp.Header.Get("HX-Retarget") != "#pool-form" || strings.Contains(body, "<html") {
		t.Fatalf("bad slots with htmx: %d %q\n%s", st, resp.Header.Get("HX-Retarget"), body)
	}
	wantContains(t, "bad slots", body, "Slots must be a whole number", `value="-1"`)

	// Viewers read, and may not change.
	viewer := b.login("vic")
	st, body = viewer.get("/pools")
	if st != http.StatusOK {
		t.Fatalf("viewer pools: %d", st)
	}
	wantContains(t, "viewer pools", body, "warehouse", "1/5")
	wantNotContains(t, "viewer pools", body, `id="pool-form"`, "/delete", "?edit=")
	for _, path := range []string{"/pools", "/pools/warehouse/delete"} {
		if st, _, _ := viewer.post(path, viewer.form("name", "warehouse", "slots", "0")); st != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d", path, st)
		}
	}
	if st, _, _ := op.post("/pools", url.Values{"name": {"warehouse"}, "slots": {"0"}}); st != http.StatusForbidden {
		t.Errorf("resize without a CSRF token: %d", st)
	}

	st, body, _ = op.post("/pools/warehouse/delete", url.Values{}, op.htmx()...)
	if st != http.StatusOK || !strings.Contains(body, "Pool warehouse deleted") {
		t.Fatalf("delete: %d %s", st, body)
	}
	if _, err := b.ctl.Pool(b.ctx, "warehouse"); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("pool still there: %v", err)
	}
	op.stream("/events/pools?fp=stale", "changed")
}

func TestVariables(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("otto", store.RoleOperator)
	b.user("vic", store.RoleViewer)
	viewer := b.login("vic")
	if st, body := viewer.get("/variables"); st != http.StatusForbidden || !strings.Contains(body, "403") {
		t.Fatalf("viewer GET /variables: %d", st)
	}
	if st, _, _ := viewer.post("/variables", viewer.form("name", "bucket", "value", "x")); st != http.StatusForbidden {
		t.Fatalf("viewer POST /variables: %d", st)
	}
	_, body := viewer.get("/")
	wantNotContains(t, "viewer nav", body, `href="/variables"`, `href="/secrets"`)

	op := b.login("otto")
	_, body = op.get("/")
	wantContains(t, "operator nav", body, `href="/variables"`, `href="/secrets"`, `href="/pools"`, `href="/workers"`)
	st, _, resp := op.post("/variables", op.form("name", "bucket", "value", "s3://data\r\n"+evil))
	if st != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/variables?notice=") {
		t.Fatalf("set: %d %q", st, resp.Header.Get("Location"))
	}
	vars, err := b.st.VariableList(b.ctx)
	must(t, err)
	if len(vars) != 1 || vars[0].Value != "s3://data\n"+evil {
		t.Fatalf("variables: %+v", vars[0])
	}
	_, body = op.get("/variables")
	wantContains(t, "variables", body, `id="var-bucket"`, "s3://data\n&lt;script&gt;", `/variables?edit=bucket`)
	wantNotContains(t, "variables", body, evil)
	_, body = op.get("/variables?edit=bucket")
	wantContains(t, "edit", body, "Edit variable", "s3://data\n&lt;script&gt;alert(1)&lt;/script&gt;</textarea>")

	st, body, resp = op.post("/variables", url.Values{"name": {"bucket"}, "value": {""}}, op.htmx()...)
	if st != http.StatusOK || resp.Header.Get("HX-Trigger") != "sluice:refresh" || !strings.Contains(body, "Variable bucket changed") {
		t.Fatalf("change with htmx: %d\n%s", st, body)
	}
	st, body, resp = op.post("/variables", url.Values{"name": {"9lives"}, "value": {"v"}}, op.htmx()...)
	if st != http.StatusUnprocessableEntity || resp.Header.Get("HX-Retarget") != "#variable-form" || !strings.Contains(body, "9lives") {
		t.Fatalf("bad name: %d %q\n%s", st, resp.Header.Get("HX-Retarget"), body)
	}
	st, _, _ = op.post("/variables/bucket/delete", op.form())
	if st != http.StatusSeeOther {
		t.Fatalf("delete: %d", st)
	}
	if vars, _ := b.st.VariableList(b.ctx); len(vars) != 0 {
		t.Fatalf("still there: %d", len(vars))
	}
	if st, body, _ := op.post("/variables/bucket/delete", url.Values{}, op.htmx()...); st != http.StatusNotFound || !strings.Contains(body, `class="notice error"`) {
		t.Fatalf("delete twice: %d %s", st, body)
	}
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	const value = "hunter2-" + evil + "-very-secret"
	b := setupBox(t, newBox(t))
	b.user("ada", store.RoleAdmin)
	b.user("otto", store.RoleOperator)
	b.user("vic", store.RoleViewer)
	b.upload("report.yaml", paramsPipeline)
	admin := b.login("ada")

	st, body := admin.get("/secrets")
	if st != http.StatusOK {
		t.Fatalf("secrets page: %d", st)
	}
	wantContains(t, "secrets page", body, `id="secret-form"`, `type="password" id="secret-value"`, "No secrets yet")
	wantNotContains(t, "secrets page", body, "cannot store secrets")

	// A problem comes back without the value.
	st, body, _ = admin.post("/secrets", admin.form("name", "SLUICE_X", "value", value))
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, "reserved") || !strings.Contains(body, `value="SLUICE_X"`) {
		t.Fatalf("reserved name: %d\n%s", st, shorten(body))
	}
	wantNotContains(t, "reserved name", body, value, "hunter2")
	st, body, _ = admin.post("/secrets", url.Values{"name": {"API_TOKEN"}, "value": {""}}, admin.htmx()...)
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, "Type the secret") {
		t.Fatalf("empty value: %d\n%s", st, body)
	}

	st, body, resp := admin.post("/secrets", url.Values{"name": {"API_TOKEN"}, "value": {value}}, admin.htmx()...)
	if st != http.StatusOK || resp.Header.Get("HX-Trigger") != "sluice:refresh" || !strings.Contains(body, "Secret API_TOKEN stored") {
		t.Fatalf("set: %d\n%s", st, body)
	}
	wantNotContains(t, "set", body, "hunter2")
	sealed, err := b.st.SecretGet(b.ctx, []string{"API_TOKEN"})
	must(t, err)
	if len(sealed["API_TOKEN"]) == 0 || strings.Contains(string(sealed["API_TOKEN"]), "hunter2") {
		t.Fatalf("stored: %q", sealed["API_TOKEN"])
	}
	st, _, resp = admin.post("/secrets", admin.form("name", "API_TOKEN", "value", value+"2", "editing", "true"))
	if st != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "replaced") {
		t.Fatalf("replace: %d %q", st, resp.Header.Get("Location"))
	}

	// The value is on no page, whoever looks.
	op := b.login("otto")
	pages := []string{"/", "/secrets", "/secrets?edit=API_TOKEN", "/live/secrets", "/variables", "/pools", "/workers", "/pipelines/report", "/admin/users", "/admin/tokens"}
	for _, c := range []*client{admin, op} {
		for _, path := range pages {
			_, body := c.get(path)
			wantNotContains(t, path, body, "hunter2", "very-secret")
		}
	}
	_, body = op.get("/secrets")
	wantContains(t, "operator secrets", body, `id="secret-API_TOKEN"`, "hidden", "Only admins set and delete secrets")
	wantNotContains(t, "operator secrets", body, `id="secret-form"`, "/secrets/API_TOKEN/delete")
	if st, _, _ := op.post("/secrets", op.form("name", "API_TOKEN", "value", "x")); st != http.StatusForbidden {
		t.Errorf("operator set: %d", st)
	}
	if st, _, _ := op.post("/secrets/API_TOKEN/delete", op.form()); st != http.StatusForbidden {
		t.Errorf("operator delete: %d", st)
	}
	viewer := b.login("vic")
	if st, _ := viewer.get("/secrets"); st != http.StatusForbidden {
		t.Errorf("viewer GET /secrets: %d", st)
	}
	if st, _, _ := viewer.post("/secrets", viewer.form("name", "X", "value", "x")); st != http.StatusForbidden {
		t.Errorf("viewer set: %d", st)
	}

	if st, _, _ := admin.post("/secrets/API_TOKEN/delete", admin.form()); st != http.StatusSeeOther {
		t.Fatalf("delete: %d", st)
	}
	if list, _ := b.st.SecretList(b.ctx); len(list) != 0 {
		t.Fatalf("still there: %d", len(list))
	}
}

func TestSecretsWithoutKey(t *testing.T) {
	t.Parallel()
	b := setupBox(t, nil)
	b.user("ada", store.RoleAdmin)
	admin := b.login("ada")
	_, body := admin.get("/secrets")
	wantContains(t, "secrets page", body, `id="no-secret-key"`, "cannot store secrets", "$SLUICE_SECRET_KEY", `<fieldset class="plain" disabled>`)
	// Posted anyway (another tab, a script): the reason, plainly.
	for _, hx := range []bool{false, true} {
		var st int
		var body string
		if hx {
			st, body, _ = admin.post("/secrets", url.Values{"name": {"API_TOKEN"}, "value": {"hunter2"}}, admin.htmx()...)
		} else {
			st, body, _ = admin.post("/secrets", admin.form("name", "API_TOKEN", "value", "hunter2"))
		}
		if st != http.StatusServiceUnavailable {
			t.Fatalf("set without a key (htmx %v): %d", hx, st)
		}
		wantContains(t, "no key", body, "this process has no secret key to encrypt with: set SLUICE_SECRET_KEY", `id="secret-problem"`)
		wantNotContains(t, "no key", body, "hunter2")
	}
}

func TestWorkers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("vic", store.RoleViewer)
	must(t, b.st.WorkerUpsert(b.ctx, &store.WorkerInfo{ID: "host-a:1", Hostname: "host-a", PID: 1, Labels: []string{"gpu", "py" + evil}, Concurrency: 4, Version: "v1.2.3",
		Problems: []string{"pipeline etl, task load: program \"psql\" not found in PATH " + evil}}))
	must(t, b.st.WorkerUpsert(b.ctx, &store.WorkerInfo{ID: "host-b:2", Hostname: "host-b", PID: 2, Concurrency: 2, Draining: true}))
	c := b.login("vic")
	st, body := c.get("/workers")
	if st != http.StatusOK {
		t.Fatalf("workers: %d", st)
	}
	wantContains(t, "workers", body, `id="worker-host-a:1"`, `class="has-problems"`, `data-status="alive"`, `data-status="draining"`, "1 alive", "4 task slots",
		"1 with problems", `id="worker-problems"`, "program &#34;psql&#34; not found", `<span class="tag label">gpu</span>`, "py&lt;script&gt;", "v1.2.3", "pid 1")
	wantNotContains(t, "workers", body, evil)
	c.stream("/events/workers?fp=stale", "changed")
}

// backfillPipeline runs daily at 03:00 in Warsaw, with a param.
const backfillPipeline = `id: nightly
description: A nightly load
schedule: "0 3 * * *"
timezone: Europe/Warsaw
params:
  region: {type: enum, values: [eu, us], default: eu}
  rows: {type: int, default: 10}
tasks:
  load:
    run: echo "$SLUICE_PARAM_REGION"
`

func TestBackfills(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("otto", store.RoleOperator)
	b.user("vic", store.RoleViewer)
	b.upload("nightly.yaml", backfillPipeline)
	op := b.login("otto")

	st, body := op.get("/pipelines/nightly/backfills")
	if st != http.StatusOK {
		t.Fatalf("backfills page: %d", st)
	}
	wantContains(t, "backfills page", body, `id="backfill-form"`, `name="from"`, `name="to"`, `name="rerun" value="none" checked`,
		`name="param.region"`, `name="param.rows"`, "Europe/Warsaw", "No backfills of this pipeline yet", `class="on" aria-current="page">Backfills`)

	// Preview: the dates, in the pipeline's timezone, with htmx and without.
	form := op.form("from", "2026-01-01", "to", "2026-01-03", "rerun", "none", "param.region", "us", "param.rows", "7", "action", "preview")
	st, body, _ = op.post("/pipelines/nightly/backfills", form)
	if st != http.StatusOK || !strings.Contains(body, "<html") {
		t.Fatalf("preview: %d", st)
	}
	wantContains(t, "preview", body, `id="backfill-preview"`, "3 logical dates", "Thu 2026-01-01 03:00", "Sat 2026-01-03 03:00", `value="2026-01-03"`, `<option value="us" selected>`)
	st, body, _ = op.post("/pipelines/nightly/backfills", form, op.htmx()...)
	if st != http.StatusOK || strings.Contains(body, "<html") || !strings.Contains(body, "Fri 2026-01-02 03:00") {
		t.Fatalf("preview with htmx: %d\n%s", st, shorten(body))
	}
	if runs, _ := b.st.RunList(b.ctx, &store.RunListParams{PipelineID: "nightly"}); len(runs) != 0 {
		t.Fatalf("a preview created %d runs", len(runs))
	}

	// Problems next to their fields.
	st, body, _ = op.post("/pipelines/nightly/backfills", op.form("from", "yesterday", "to", "2026-01-03", "param.rows", "many", "action", "start"))
	if st != http.StatusUnprocessableEntity {
		t.Fatalf("bad from: %d", st)
	}
	wantContains(t, "bad from", body, `id="e-bf-from"`, "&#34;yesterday&#34; is not a date", `value="yesterday"`)
	st, body, resp := op.post("/pipelines/nightly/backfills", url.Values{"from": {"2026-01-05"}, "to": {"2026-01-03"}, "action": {"preview"}}, op.htmx()...)
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, `id="e-bf-to"`) || !strings.Contains(body, "is before from") || resp.Header.Get("HX-Retarget") != "" {
		t.Fatalf("to before from: %d\n%s", st, shorten(body))
	}
	st, body, _ = op.post("/pipelines/nightly/backfills", op.form("from", "2026-01-01", "to", "2026-01-03", "param.rows", "many", "action", "start"))
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, `id="e-rows"`) {
		t.Fatalf("bad param: %d\n%s", st, shorten(body))
	}

	// Start: a plain post goes back to the page with a notice.
	form.Set("action", "start")
	st, _, resp = op.post("/pipelines/nightly/backfills", form)
	if st != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/pipelines/nightly/backfills?notice=Backfill+1+started") {
		t.Fatalf("start: %d %q", st, resp.Header.Get("Location"))
	}
	runs, err := b.st.RunList(b.ctx, &store.RunListParams{PipelineID: "nightly"})
	must(t, err)
	if len(runs) != 3 || runs[0].Kind != store.RunBackfill || string(runs[0].Params) != `{"region":"us","rows":7}` {
		t.Fatalf("runs: %d, %s %s", len(runs), runs[0].Kind, runs[0].Params)
	}
	_, body = op.get("/pipelines/nightly/backfills")
	wantContains(t, "list", body, `id="backfill-1"`, `data-total="3"`, `class="tag bf-running"`, "of 3</strong> runs finished", `svg class="progress"`, `action="/backfills/1/cancel"`)

	// Again, through htmx: the dates have runs, so they are left alone.
	st, body, resp = op.post("/pipelines/nightly/backfills", form, op.htmx()...)
	if st != http.StatusOK || resp.Header.Get("HX-Trigger") != "sluice:refresh" {
		t.Fatalf("start again: %d\n%s", st, shorten(body))
	}
	wantContains(t, "start again", body, `id="backfill-started"`, "Backfill 2 started: 0 runs; 3 dates already had a run and were left alone.")

	b.runToEnd("done")
	_, body = op.get("/pipelines/nightly/live/backfills")
	wantContains(t, "done", body, `data-state="done" data-done="3" data-total="3"`, "3 of 3</strong> runs finished (100%)")
	wantNotContains(t, "done", body, `action="/backfills/1/cancel"`)

	// Cancel a running one.
	form.Set("from", "2026-01-10")
	form.Set("to", "2026-01-11")
	_, _, _ = op.post("/pipelines/nightly/backfills", form)
	viewer := b.login("vic")
	_, body = viewer.get("/pipelines/nightly/backfills")
	wantContains(t, "viewer", body, `id="backfill-3"`)
	wantNotContains(t, "viewer", body, `id="backfill-form"`, "/cancel")
	if st, _, _ := viewer.post("/backfills/3/cancel", viewer.form()); st != http.StatusForbidden {
		t.Fatalf("viewer cancel: %d", st)
	}
	if st, _, _ := viewer.post("/pipelines/nightly/backfills", viewer.form("from", "2026-01-01", "to", "2026-01-02", "action", "start")); st != http.StatusForbidden {
		t.Fatalf("viewer start: %d", st)
	}
	st, body, _ = op.post("/backfills/3/cancel", url.Values{}, op.htmx()...)
	if st != http.StatusOK || !strings.Contains(body, "Backfill 3 cancelled") {
		t.Fatalf("cancel: %d %s", st, body)
	}
	bf, err := b.st.BackfillGet(b.ctx, 3)
	must(t, err)
	if bf.State != "cancelled" || bf.Runs[sluice.RunCancelled] != 2 {
		t.Fatalf("after cancel: %+v", bf)
	}
	if st, _, _ := op.post("/backfills/3/cancel", url.Values{}, op.htmx()...); st != http.StatusConflict {
		t.Fatalf("cancel twice: %d", st)
	}
	op.stream("/events/backfills/nightly?fp=stale", "changed")

	// A pipeline without a schedule has nothing to backfill.
	b.upload("report.yaml", paramsPipeline)
	_, body = op.get("/pipelines/report/backfills")
	wantContains(t, "no schedule", body, "has no schedule")
	wantNotContains(t, "no schedule", body, `id="backfill-form"`)
}

func TestPipelineLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("ada", store.RoleAdmin)
	b.upload("report.yaml", paramsPipeline)
	must(t, b.st.PipelineSetError(b.ctx, &store.PipelineSetErrorParams{ID: "report", File: "", Error: "report.yaml:4:3: unknown key \"runn\"\n\thint: did you mean \"run\"?\nreport.yaml:9:1: " + evil}))
	must(t, b.st.PipelineSetMissing(b.ctx, "report", true))
	sp, err := b.st.PipelineGet(b.ctx, "report")
	must(t, err)
	c := b.login("ada")
	_, body := c.get("/")
	wantContains(t, "pipelines", body, `<span class="tag missing"`, ">missing</span>", "no new runs", "loaded ", shortHashOf(sp.Hash),
		`<span class="pos">report.yaml:4:3</span>: unknown key`, "live version <code>"+shortHashOf(sp.Hash)+"</code> keeps running")
	wantNotContains(t, "pipelines", body, evil)
	_, body = c.get("/pipelines/report")
	wantContains(t, "pipeline", body, `id="missing-badge"`, `id="missing-banner"`, "gets no new runs", "none: its file is missing", `id="parse-error"`,
		"stays live and keeps running", `<span class="pos">report.yaml:9:1</span>: &lt;script&gt;`, `class="pl ph"`)
	wantNotContains(t, "pipeline", body, evil)
}

func shortHashOf(h string) string { return h[:12] }

// childPipeline and parentPipeline: a run of parent starts one of child.
const childPipeline = "id: child\ntasks:\n  work: {run: echo child}\n"

const parentPipeline = `id: parent
on_success:
  run: echo done
tasks:
  sub:
    pipeline: child
  gpu:
    requires: [gpu]
    run: echo needs a gpu
`

func TestRunDetails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("ada", store.RoleAdmin)
	b.upload("child.yaml", childPipeline)
	b.upload("parent.yaml", parentPipeline)
	parent, err := b.ctl.Trigger(b.ctx, "parent", nil, "test")
	must(t, err)
	child, _, err := b.st.RunCreate(b.ctx, &store.RunCreateParams{PipelineID: "child", Kind: store.RunManual, LogicalDate: parent.LogicalDate,
		Key: "child__1", Params: []byte("{}"), ParentRunID: parent.ID, ParentTask: "sub"})
	must(t, err)
	gpu, err := b.st.InstanceGet(b.ctx, parent.ID, "gpu")
	must(t, err)
	must(t, b.st.InstanceSetBlocked(b.ctx, map[int64]string{gpu.ID: "no live worker has the label(s) gpu " + evil}))
	c := b.login("ada")

	_, body := c.get(fmt.Sprintf("/runs/%d", parent.ID))
	wantContains(t, "parent run", body, `id="blocked-banner"`, "1 task is ready but cannot start", `<span class="tag blocked"`,
		"no live worker has the label(s) gpu &lt;script&gt;", "1 blocked", "child run:", fmt.Sprintf(`href="/runs/%d"`, child.ID), "child #")
	wantNotContains(t, "parent run", body, evil)
	_, body = c.get(fmt.Sprintf("/runs/%d/tasks/gpu", parent.ID))
	wantContains(t, "blocked log", body, `id="task-blocked"`, "no live worker has the label(s) gpu &lt;script&gt;")
	_, body = c.get("/pipelines/parent/graph")
	wantContains(t, "graph", body, "node st-queued blocked", "queued · blocked")
	_, body = c.get(fmt.Sprintf("/runs/%d", child.ID))
	wantContains(t, "child run", body, `id="parent-run"`, "Started by", fmt.Sprintf(`href="/runs/%d/tasks/sub"`, parent.ID), fmt.Sprintf(`<a href="/runs/%d">run %d</a> (parent)`, parent.ID, parent.ID))

	// The blocked reason reaches an open page by its event stream.
	fp := eventData(c.stream(fmt.Sprintf("/events/runs/%d?fp=stale", parent.ID), "changed"))
	done := make(chan error, 1)
	go func() {
		_, err := c.streamErr(fmt.Sprintf("/events/runs/%d?fp=%s", parent.ID, fp), "changed")
		done <- err
	}()
	must(t, b.st.InstanceSetBlocked(b.ctx, map[int64]string{gpu.ID: ""}))
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("no change event after the reason went")
	}

	// The run's callbacks are listed once queued, when it finished.
	must(t, b.ctl.Mark(b.ctx, parent.ID, "gpu", sluice.InstanceSuccess, "test"))
	b.runToEnd("line")
	cbs, err := b.st.CallbackList(b.ctx, parent.ID)
	must(t, err)
	if len(cbs) == 0 {
		t.Fatal("no callback queued")
	}
	_, body = c.get(fmt.Sprintf("/runs/%d", parent.ID))
	wantContains(t, "callbacks", body, `id="callbacks"`, "on_success", "the run", "badge cb-pending")
	wantNotContains(t, "callbacks", body, `id="blocked-banner"`)
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// TestNewFormsCarryCSRF checks that every form of the new pages carries
// the session's token, for plain posts (htmx sends it as a header).
func TestNewFormsCarryCSRF(t *testing.T) {
	t.Parallel()
	b := setupBox(t, newBox(t))
	b.user("ada", store.RoleAdmin)
	b.upload("nightly.yaml", backfillPipeline)
	must(t, b.st.PoolSet(b.ctx, &store.Pool{Name: "p", Slots: 1}))
	must(t, b.st.VariableSet(b.ctx, "v", "1"))
	must(t, b.st.SecretSet(b.ctx, "S", []byte("sealed")))
	_, err := b.ctl.BackfillWith(b.ctx, &control.BackfillWithParams{PipelineID: "nightly", From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)})
	must(t, err)
	c := b.login("ada")
	for _, path := range []string{"/pools", "/variables", "/secrets", "/pipelines/nightly/backfills"} {
		_, body := c.get(path)
		forms := strings.Count(body, `method="post"`)
		tokens := csrfInput.FindAllStringSubmatch(body, -1)
		// The logout form is one of them.
		if forms < 3 || len(tokens) != forms {
			t.Errorf("%s: %d forms, %d tokens", path, forms, len(tokens))
		}
		for _, m := range tokens {
			if m[1] != c.csrf {
				t.Errorf("%s: token %q", path, m[1])
			}
		}
	}
}
