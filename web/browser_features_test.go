package web_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser tests of the engine's features: pools, workers, variables,
// secrets, backfills, a blocked task and a pipeline whose file goes.

// pooledPipeline needs a pool that does not exist when it is triggered;
// its loads run until the file release exists, so that the pool's use can
// be seen.
func pooledPipeline(release string) string {
	return fmt.Sprintf(`id: pooled
description: Loads three regions through a pool that nobody has created yet
defaults:
  pool: reports_pool
  env: {RELEASE: %q}
tasks:
  load_eu:   {run: 'while [ ! -e "$RELEASE" ]; do sleep 0.1; done; echo loaded eu'}
  load_us:   {run: 'while [ ! -e "$RELEASE" ]; do sleep 0.1; done; echo loaded us'}
  load_apac: {run: 'while [ ! -e "$RELEASE" ]; do sleep 0.1; done; echo loaded apac'}
  publish:
    depends_on: [load_eu, load_us, load_apac]
    pool: ""
    run: echo published
`, release)
}

// dbtPipeline starts a program that the machine lacks: the worker's
// environment check reports it.
const dbtPipeline = `id: dbt_models
description: Builds the warehouse models with dbt
tasks:
  build: {command: [dbt, run, --select, nightly]}
`

// nightlyPipeline is backfilled.
const nightlyPipeline = `id: nightly
description: A nightly load, backfilled from the UI
schedule: "0 3 * * *"
timezone: Europe/Warsaw
params:
  region: {type: enum, values: [eu, us], default: eu}
tasks:
  extract:
    run: echo "extract $SLUICE_DS for $SLUICE_PARAM_REGION"
  load:
    depends_on: [extract]
    run: echo "load $SLUICE_DS"
`

// lifecyclePipeline gets a broken file, then no file.
const lifecyclePipeline = `id: lifecycle
description: Its file breaks, then goes away
tasks:
  only: {run: echo only}
`

// secretValue is set through the secrets page and must show on no page.
const secretValue = "s3cr3t-from-the-browser-<b>bold</b>"

const (
	operatorName = "opal"
	viewerName   = "vera"
	userPassword = "a-long-enough-password"
)

func featureTests(t *testing.T, br *browser, srv *sluiceServer) {
	ctx := br.ctx
	base := srv.url

	// loginAs logs the browser out and in again as another user.
	loginAs := func(t *testing.T, name, password string) {
		t.Helper()
		do(t, ctx, "open a page", chromedp.Navigate(base+"/"))
		do(t, ctx, "log out", chromedp.Click(chromedp.CSS("form[action='/logout'] button")))
		waitJS(t, ctx, "the login page", `location.pathname === "/login" && document.querySelector('#name')`, 20*time.Second)
		do(t, ctx, "log in as "+name,
			chromedp.SendKeys(chromedp.ID("name"), name),
			chromedp.SendKeys(chromedp.ID("password"), password),
			chromedp.Click(chromedp.CSS(".login-card button[type=submit]")),
		)
		waitJS(t, ctx, "logged in as "+name, `location.pathname === "/" && document.querySelector('.who .user') && document.querySelector('.who .user').textContent.includes(`+jsString(name)+`)`, 20*time.Second)
	}
	// post sends a form from the page, as a script with the page's token
	// would, and returns the status.
	post := func(t *testing.T, path string, form map[string]string) int {
		t.Helper()
		fields := "{"
		for k, v := range form {
			fields += jsString(k) + ":" + jsString(v) + ","
		}
		fields += "}"
		return eval[int](t, ctx, `fetch(`+jsString(path)+`, {method: "POST", headers: {"X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content, "HX-Request": "true"}, body: new URLSearchParams(`+fields+`)}).then(r => r.status)`)
	}

	t.Run("users for the roles", func(t *testing.T) {
		do(t, ctx, "open users", chromedp.Navigate(base+"/admin/users"))
		for name, role := range map[string]string{operatorName: "operator", viewerName: "viewer"} {
			if st := post(t, "/admin/users", map[string]string{"name": name, "role": role, "password": userPassword}); st != 200 {
				t.Fatalf("creating %s: %d", name, st)
			}
		}
	})

	var blockedRun string
	t.Run("blocked tasks show why", func(t *testing.T) {
		do(t, ctx, "open the trigger form", chromedp.Navigate(base+"/pipelines/pooled/trigger"))
		do(t, ctx, "trigger", chromedp.Click(chromedp.CSS("#trigger-form button[type=submit]")))
		waitJS(t, ctx, "the run page", `/^\/runs\/\d+$/.test(location.pathname) && document.querySelector('#run-state')`, 20*time.Second)
		blockedRun = eval[string](t, ctx, `location.href`)
		eval[chromedp.Void](t, ctx, `window.__sameDocument = true`)
		// The scheduler finds out within seconds; the page follows.
		waitJS(t, ctx, "the blocked markers", `document.querySelectorAll('tr[data-state="queued"] .tag.blocked').length === 3 && document.querySelector('#task-load_eu .blocked-why').textContent.includes("pool reports_pool does not exist")`, 60*time.Second)
		waitJS(t, ctx, "the banner", `document.querySelector('#blocked-banner') && document.querySelector('#blocked-banner').textContent.includes("3 tasks are ready but cannot start")`, 10*time.Second)
		if !eval[bool](t, ctx, `window.__sameDocument === true`) {
			t.Error("the run page reloaded to show the reason")
		}
		if n := eval[int](t, ctx, `document.querySelectorAll('svg.dag g.node.blocked').length`); n != 3 {
			t.Errorf("%d blocked boxes in the graph", n)
		}
		noCSPViolations(t, ctx)
		br.shot(ctx, "run-blocked")
	})

	t.Run("an admin creates and resizes a pool, not an operator", func(t *testing.T) {
		loginAs(t, operatorName, userPassword)
		do(t, ctx, "open the pools", chromedp.Navigate(base+"/pools"))
		waitJS(t, ctx, "the nav item", `document.querySelector('.nav a.on[href="/pools"]')`, 10*time.Second)
		if eval[bool](t, ctx, `document.querySelector('#pool-form, #pools-live form') !== null`) {
			t.Error("an operator is offered pool forms")
		}
		if st := post(t, "/pools", map[string]string{"name": "warehouse", "slots": "4"}); st != 403 {
			t.Errorf("an operator's POST /pools: %d, want 403", st)
		}
		loginAs(t, "admin", adminPassword)
		do(t, ctx, "open the pools", chromedp.Navigate(base+"/pools"))
		waitJS(t, ctx, "the nav item", `document.querySelector('.nav a.on[href="/pools"]')`, 10*time.Second)
		eval[chromedp.Void](t, ctx, `window.__sameDocument = true`)
		do(t, ctx, "add a pool",
			chromedp.SendKeys(chromedp.ID("pool-name"), "warehouse"),
			chromedp.SendKeys(chromedp.ID("pool-slots"), "4"),
			chromedp.SendKeys(chromedp.ID("pool-desc"), "the Postgres warehouse, <i>gently</i>"),
			chromedp.Click(chromedp.CSS("#pool-form button[type=submit]")),
		)
		waitJS(t, ctx, "the pool listed", `document.querySelector('#pool-warehouse') && document.querySelector('#pool-warehouse').dataset.slots === "4"`, 20*time.Second)
		waitJS(t, ctx, "the notice", `document.querySelector('#notice').textContent.includes("Pool warehouse created with 4 slots")`, 10*time.Second)
		if v := eval[string](t, ctx, `document.querySelector('#pool-name').value + "|" + document.querySelector('#pool-slots').value`); v != "|" {
			t.Errorf("the form is not fresh after saving: %q", v)
		}
		if !eval[bool](t, ctx, `document.querySelector('#pool-warehouse .desc').textContent === "the Postgres warehouse, <i>gently</i>"`) {
			t.Error("the description is not shown as text")
		}
		// The pool the blocked run waits for: one task takes its one slot,
		// two wait, and the page follows.
		do(t, ctx, "add reports_pool",
			chromedp.SendKeys(chromedp.ID("pool-name"), "reports_pool"),
			chromedp.SendKeys(chromedp.ID("pool-slots"), "1"),
			chromedp.Click(chromedp.CSS("#pool-form button[type=submit]")),
		)
		waitJS(t, ctx, "the pool full, two waiting", `document.querySelector('#pool-reports_pool') && document.querySelector('#pool-reports_pool').dataset.level === "full" && document.querySelector('#pool-reports_pool').textContent.includes("2 waiting")`, 30*time.Second)
		// Resize: the button fills the form in place.
		do(t, ctx, "resize", chromedp.Click(chromedp.CSS("#pool-reports_pool a.btn")))
		waitJS(t, ctx, "the form filled", `document.querySelector('#pool-name').value === "reports_pool" && document.querySelector('#pool-name').readOnly && document.querySelector('#pool-slots').value === "1"`, 10*time.Second)
		do(t, ctx, "three slots",
			chromedp.SetValue(chromedp.ID("pool-slots"), "3"),
			chromedp.Click(chromedp.CSS("#pool-form button[type=submit]")),
		)
		waitJS(t, ctx, "resized", `document.querySelector('#pool-reports_pool').dataset.slots === "3" && document.querySelector('#notice').textContent.includes("now has 3 slots (was 1)")`, 20*time.Second)
		waitJS(t, ctx, "three in use", `document.querySelector('#pool-reports_pool .meter-text').textContent.includes("3/3") && !document.querySelector('#pool-reports_pool').textContent.includes("waiting")`, 30*time.Second)
		if !eval[bool](t, ctx, `window.__sameDocument === true`) {
			t.Error("the pools page reloaded")
		}
		noCSPViolations(t, ctx)
		br.shot(ctx, "pools")
		writeFile(t, filepath.Join(filepath.Dir(srv.pipes), "release"), "go")
		do(t, ctx, "the run", chromedp.Navigate(blockedRun))
		waitJS(t, ctx, "the run succeeds", `document.querySelector('#run-state').dataset.state === "success"`, 60*time.Second)
		if eval[bool](t, ctx, `document.querySelector('#blocked-banner') !== null`) {
			t.Error("the blocked banner stayed after the run finished")
		}
	})

	t.Run("an operator sets a variable", func(t *testing.T) {
		loginAs(t, operatorName, userPassword)
		do(t, ctx, "open the variables", chromedp.Navigate(base+"/variables"))
		do(t, ctx, "set bucket",
			chromedp.SendKeys(chromedp.ID("var-name"), "bucket"),
			chromedp.SendKeys(chromedp.ID("var-value"), "s3://browser-bucket"),
			chromedp.Click(chromedp.CSS("#variable-form button[type=submit]")),
		)
		waitJS(t, ctx, "listed", `document.querySelector('#var-bucket') && document.querySelector('#var-bucket .value-text').textContent === "s3://browser-bucket"`, 20*time.Second)
		do(t, ctx, "set another",
			chromedp.SendKeys(chromedp.ID("var-name"), "report_recipients"),
			chromedp.SendKeys(chromedp.ID("var-value"), "data-team@example.com, finance@example.com"),
			chromedp.Click(chromedp.CSS("#variable-form button[type=submit]")),
		)
		waitJS(t, ctx, "listed", `document.querySelector('#var-report_recipients')`, 20*time.Second)
		noCSPViolations(t, ctx)
		br.shot(ctx, "variables")
		// An operator sees the secrets' names, and no form to set one.
		do(t, ctx, "open the secrets", chromedp.Navigate(base+"/secrets"))
		if eval[bool](t, ctx, `document.querySelector('#secret-form') !== null`) {
			t.Error("an operator is offered the secret form")
		}
		if st := post(t, "/secrets", map[string]string{"name": "API_TOKEN", "value": "x"}); st != 403 {
			t.Errorf("an operator set a secret: %d", st)
		}
	})

	t.Run("a viewer is refused variables and secrets", func(t *testing.T) {
		loginAs(t, viewerName, userPassword)
		if eval[bool](t, ctx, `document.querySelector('.nav a[href="/variables"], .nav a[href="/secrets"]') !== null`) {
			t.Error("a viewer's menu offers variables or secrets")
		}
		for _, path := range []string{"/variables", "/secrets"} {
			do(t, ctx, "open "+path, chromedp.Navigate(base+path))
			waitJS(t, ctx, "the 403 page", `document.querySelector('.error-code') && document.querySelector('.error-code').textContent === "403"`, 10*time.Second)
			if msg := eval[string](t, ctx, `document.querySelector('#error-message').textContent`); !strings.Contains(msg, "operator") {
				t.Errorf("%s: the 403 page says %q", path, msg)
			}
			if path == "/secrets" {
				br.shot(ctx, "viewer-refused")
			}
		}
		do(t, ctx, "open the pools", chromedp.Navigate(base+"/pools"))
		if eval[bool](t, ctx, `document.querySelector('#pool-form, #pools-live form') !== null`) {
			t.Error("a viewer is offered pool forms")
		}
		for path, form := range map[string]map[string]string{
			"/variables":                 {"name": "bucket", "value": "x"},
			"/variables/bucket/delete":   {},
			"/secrets":                   {"name": "API_TOKEN", "value": "x"},
			"/pools":                     {"name": "reports_pool", "slots": "0"},
			"/pools/reports_pool/delete": {},
		} {
			if st := post(t, path, form); st != 403 {
				t.Errorf("a viewer's POST %s: %d, want 403", path, st)
			}
		}
		loginAs(t, "admin", adminPassword)
	})

	t.Run("an admin sets a secret that no page shows", func(t *testing.T) {
		do(t, ctx, "open the secrets", chromedp.Navigate(base+"/secrets"))
		eval[chromedp.Void](t, ctx, `window.__sameDocument = true`)
		if eval[bool](t, ctx, `document.querySelector('#no-secret-key') !== null`) {
			t.Fatal("the server says it cannot store secrets")
		}
		do(t, ctx, "set API_TOKEN",
			chromedp.SendKeys(chromedp.ID("secret-name"), "API_TOKEN"),
			chromedp.SendKeys(chromedp.ID("secret-value"), secretValue),
			chromedp.Click(chromedp.CSS("#secret-form button[type=submit]")),
		)
		waitJS(t, ctx, "listed", `document.querySelector('#secret-API_TOKEN') && document.querySelector('#notice').textContent.includes("Secret API_TOKEN stored")`, 20*time.Second)
		if v := eval[string](t, ctx, `document.querySelector('#secret-value').value`); v != "" {
			t.Error("the value stayed in the form")
		}
		if !eval[bool](t, ctx, `window.__sameDocument === true`) {
			t.Error("the secrets page reloaded")
		}
		noCSPViolations(t, ctx)
		br.shot(ctx, "secrets")

		// A task that declares it gets it, masked in its log.
		do(t, ctx, "open the trigger form", chromedp.Navigate(base+"/pipelines/secrets/trigger"))
		do(t, ctx, "trigger", chromedp.Click(chromedp.CSS("#trigger-form button[type=submit]")))
		waitJS(t, ctx, "the run succeeds", `/^\/runs\/\d+$/.test(location.pathname) && document.querySelector('#run-state').dataset.state === "success"`, 60*time.Second)
		run := eval[string](t, ctx, `location.pathname`)
		do(t, ctx, "the log", chromedp.Navigate(base+run+"/tasks/call"))
		waitJS(t, ctx, "the masked line", `document.querySelector('#log-lines') && document.querySelector('#log-lines').textContent.includes("calling the API with token ***")`, 20*time.Second)
		if !eval[bool](t, ctx, `document.querySelector('#log-lines').textContent.includes("writing to s3://browser-bucket/exports")`) {
			t.Error("the task did not read the variable")
		}
		// A finished short log is as tall as its lines, not a large
		// empty box.
		if extra := eval[float64](t, ctx, `document.querySelector('#log').getBoundingClientRect().height - document.querySelector('#log-lines').getBoundingClientRect().height`); extra > 20 {
			t.Errorf("the box of a finished short log is %.0f px taller than its lines", extra)
		}
		pages := []string{"/", "/pools", "/workers", "/variables", "/secrets", "/secrets?edit=API_TOKEN", "/admin/users", "/admin/tokens",
			"/pipelines/secrets", "/pipelines/secrets/runs", run, run + "/tasks/call", run + "/tasks/call/log.txt"}
		for _, path := range pages {
			do(t, ctx, "open "+path, chromedp.Navigate(base+path))
			html := eval[string](t, ctx, `document.documentElement.outerHTML`)
			for _, part := range []string{secretValue, "s3cr3t-from-the-browser", "<b>bold</b>", "&lt;b&gt;bold"} {
				if strings.Contains(html, part) {
					t.Errorf("%s shows the secret (%q)", path, part)
				}
			}
		}
		if strings.Contains(srv.logs(), "s3cr3t-from-the-browser") {
			t.Error("the server logged the secret")
		}
	})

	t.Run("a backfill previewed, started and followed", func(t *testing.T) {
		do(t, ctx, "open the backfills", chromedp.Navigate(base+"/pipelines/nightly/backfills"))
		waitJS(t, ctx, "the form", `document.querySelector('#backfill-form #bf-from')`, 10*time.Second)
		eval[chromedp.Void](t, ctx, `window.__sameDocument = true`)
		do(t, ctx, "fill in the range",
			chromedp.SetValue(chromedp.ID("bf-from"), "2026-11-02"),
			chromedp.SetValue(chromedp.ID("bf-to"), "2026-11-06"),
			chromedp.SetValue(chromedp.ID("f-region"), "us"),
			chromedp.Click(chromedp.ID("bf-preview")),
		)
		waitJS(t, ctx, "the preview", `document.querySelectorAll('#backfill-preview ol.dates li').length === 5`, 20*time.Second)
		if first := eval[string](t, ctx, `document.querySelector('#backfill-preview ol.dates li').textContent`); first != "Mon 2026-11-02 03:00" {
			t.Errorf("the first date reads %q", first)
		}
		if v := eval[string](t, ctx, `document.querySelector('#bf-from').value + "/" + document.querySelector('#f-region').value`); v != "2026-11-02/us" {
			t.Errorf("the preview lost the form's values: %s", v)
		}
		noCSPViolations(t, ctx)
		br.shot(ctx, "backfill-preview")
		do(t, ctx, "start", chromedp.Click(chromedp.ID("bf-start")))
		waitJS(t, ctx, "started", `document.querySelector('#backfill-started') && document.querySelector('#backfill-started').textContent.includes("5 runs")`, 20*time.Second)
		waitJS(t, ctx, "listed", `document.querySelector('.backfills .bf')`, 20*time.Second)
		id := eval[string](t, ctx, `document.querySelector('.backfills .bf').id`)
		sel := "document.querySelector('#" + id + "')"
		// Follow the progress the page shows until it is done.
		var seen []string
		deadline := time.Now().Add(90 * time.Second)
		for {
			st := eval[string](t, ctx, sel+`.dataset.state + " " + `+sel+`.dataset.done + "/" + `+sel+`.dataset.total`)
			if len(seen) == 0 || seen[len(seen)-1] != st {
				seen = append(seen, st)
			}
			if strings.HasPrefix(st, "done ") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the backfill did not finish; the page showed %v", seen)
			}
			time.Sleep(100 * time.Millisecond) // the poll interval
		}
		if seen[len(seen)-1] != "done 5/5" {
			t.Errorf("the backfill ended as %v", seen)
		}
		if !eval[bool](t, ctx, `window.__sameDocument === true`) {
			t.Error("the page reloaded to show the progress")
		}
		if !eval[bool](t, ctx, sel+`.querySelectorAll('svg.progress rect.fill.st-success').length === 1 && `+sel+`.querySelector('.bf-counts').textContent.includes("5 of 5")`) {
			t.Errorf("the bar of a finished backfill: %s", eval[string](t, ctx, sel+`.innerHTML`))
		}
		br.shot(ctx, "backfills")
		// The runs have the params from the form.
		do(t, ctx, "the runs", chromedp.Navigate(base+"/pipelines/nightly/runs"))
		waitJS(t, ctx, "backfill runs", `[...document.querySelectorAll('table.runs-table td[data-label="Kind"]')].filter(td => td.textContent === "backfill").length === 5`, 10*time.Second)
		do(t, ctx, "a run", chromedp.Click(chromedp.CSS("table.runs-table tbody tr a")))
		waitJS(t, ctx, "its params", `document.querySelector('.params') && document.querySelector('.params').textContent.includes("us")`, 10*time.Second)
	})

	t.Run("a pipeline's file breaks, then goes", func(t *testing.T) {
		do(t, ctx, "open the pipeline", chromedp.Navigate(base+"/pipelines/lifecycle"))
		waitJS(t, ctx, "its version", `document.querySelector('.facts') && document.querySelector('.facts').textContent.includes("loaded")`, 10*time.Second)
		eval[chromedp.Void](t, ctx, `window.__sameDocument = true`)
		file := filepath.Join(srv.pipes, "lifecycle.yaml")
		writeFile(t, file, lifecyclePipeline+"  second:\n    runn: echo\n")
		waitJS(t, ctx, "the error with its position", `[...document.querySelectorAll('#parse-error .pos')].some(e => e.textContent.endsWith("/lifecycle.yaml:6:5"))`, 30*time.Second)
		if !eval[bool](t, ctx, `document.querySelector('#parse-error').textContent.includes("stays live")`) {
			t.Error("the banner does not say the live version stays")
		}
		br.shot(ctx, "pipeline-parse-error")
		if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
		do(t, ctx, "open the pipelines", chromedp.Navigate(base+"/"))
		eval[chromedp.Void](t, ctx, `window.__sameDocument = true`)
		waitJS(t, ctx, "the missing badge", `document.querySelector('#p-lifecycle .tag.missing')`, 30*time.Second)
		if !eval[bool](t, ctx, `window.__sameDocument === true`) {
			t.Error("the pipelines page reloaded")
		}
		do(t, ctx, "open the pipeline", chromedp.Navigate(base+"/pipelines/lifecycle"))
		waitJS(t, ctx, "the banner", `document.querySelector('#missing-badge') && document.querySelector('#missing-banner').textContent.includes("gets no new runs")`, 10*time.Second)
		noCSPViolations(t, ctx)
		br.shot(ctx, "pipeline-missing")
	})

	t.Run("workers", func(t *testing.T) {
		do(t, ctx, "open the workers", chromedp.Navigate(base+"/workers"))
		waitJS(t, ctx, "the worker of the server", `document.querySelector('.workers-table tr[data-status="alive"]')`, 20*time.Second)
		// It lacks dbt, which a task of dbt_models starts.
		waitJS(t, ctx, "its problem", `document.querySelector('.workers-table tr.has-problems') && document.querySelector('.workers-table tr.problem-row').textContent.includes("dbt")`, 10*time.Second)
		if n := eval[int](t, ctx, `document.querySelectorAll('.workers-table tbody tr[data-status]').length`); n != 1 {
			t.Errorf("%d workers listed", n)
		}
		noCSPViolations(t, ctx)
		br.shot(ctx, "workers")
	})
}
