package web_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// warsawPipeline runs at 03:00 in Warsaw, which is 02:00 UTC in winter
// and 21:00 the day before in New York.
const warsawPipeline = `id: daily_orders
description: Load yesterday's orders into the warehouse
schedule: "0 3 * * *"
timezone: Europe/Warsaw
start: 2026-01-01
catchup: false
tags: [orders, warehouse]
tasks:
  extract:
    run: echo extract
  load:
    depends_on: [extract]
    run: echo load
`

// TestBrowserDaily drives the pages of issue 14 in a browser in New York:
// the zone picker, the filters of the pipelines list, and Browse.
func TestBrowserDaily(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("browser tests are not short")
	}
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	if err := os.MkdirAll(pipes, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(pipes, "daily.yaml"), warsawPipeline)
	writeFile(t, filepath.Join(pipes, "hello.yaml"), "id: hello\ndescription: Says hello\ntags: [demo]\ntasks:\n  greet:\n    run: echo hello\n")
	writeFile(t, filepath.Join(pipes, "broken_step.yaml"), "id: broken_step\ndescription: Fails on purpose\ntags: [demo]\ntasks:\n  boom:\n    run: exit 3\n")
	srv := startSluice(t, dir)
	br := newBrowser(t)
	ctx := br.ctx
	base := srv.url
	defer func() {
		if t.Failed() {
			t.Logf("sluice log:\n%s", srv.logs())
		}
	}()
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/New_York"}); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "open the home page", chromedp.Navigate(base+"/"))
	waitJS(t, ctx, "the login page", `location.pathname === "/login"`, 20*time.Second)
	do(t, ctx, "log in",
		chromedp.SendKeys(chromedp.ID("name"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(".login-card button[type=submit]")),
	)
	waitJS(t, ctx, "the pipelines page", `location.pathname === "/" && document.querySelector('#p-daily_orders .next-at')`, 20*time.Second)

	t.Run("zones", func(t *testing.T) {
		// app.js told the server the browser's zone on the first page.
		do(t, ctx, "reload", chromedp.Navigate(base+"/"))
		waitJS(t, ctx, "next run in New York time, with its date", `/^[A-Z][a-z]{2} \d\d \d\d:00 E[SD]T$/.test(document.querySelector('#p-daily_orders .next-at').textContent.trim()) && document.querySelector('#zone-name').textContent === "America/New_York"`, 20*time.Second)
		pick := func(choice string) {
			t.Helper()
			eval[bool](t, ctx, `(() => { const s = document.querySelector('#zone-choice'); s.value = `+jsString(choice)+`; s.dispatchEvent(new Event('change', {bubbles: true})); return true })()`)
		}
		pick("pipeline")
		waitJS(t, ctx, "next run in the pipeline's zone", `document.querySelector('#zone-choice').value === "pipeline" && /^[A-Z][a-z]{2} \d\d 03:00 CES?T$/.test(document.querySelector('#p-daily_orders .next-at').textContent.trim())`, 20*time.Second)
		noCSPViolations(t, ctx)
		br.shot(ctx, "zone-pipeline")
		do(t, ctx, "open the pipeline", chromedp.Navigate(base+"/pipelines/daily_orders"))
		waitJS(t, ctx, "the head in Warsaw time", `/\(\w{3} \d\d 03:00 CES?T\)/.test(document.querySelector('.next-at').textContent) && document.querySelector('#zone-name').textContent === "Europe/Warsaw"`, 20*time.Second)
		pick("utc")
		waitJS(t, ctx, "the head in UTC", `document.querySelector('#zone-choice').value === "utc" && /\(\w{3} \d\d 0[12]:00 UTC\)/.test(document.querySelector('.next-at').textContent) && location.pathname === "/pipelines/daily_orders"`, 20*time.Second)
		// The choice is the user's, not the browser's: without any cookie
		// (as in another browser) a new login finds it.
		if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
		do(t, ctx, "open the pipeline logged out", chromedp.Navigate(base+"/pipelines/daily_orders"))
		waitJS(t, ctx, "the login page", `location.pathname === "/login"`, 20*time.Second)
		do(t, ctx, "log in again",
			chromedp.SendKeys(chromedp.ID("name"), "admin"),
			chromedp.SendKeys(chromedp.ID("password"), adminPassword),
			chromedp.Click(chromedp.CSS(".login-card button[type=submit]")),
		)
		waitJS(t, ctx, "still UTC", `location.pathname === "/pipelines/daily_orders" && document.querySelector('#zone-choice').value === "utc" && /\(\w{3} \d\d 0[12]:00 UTC\)/.test(document.querySelector('.next-at').textContent)`, 20*time.Second)
		pick("local")
		waitJS(t, ctx, "back to local", `document.querySelector('#zone-choice').value === "local" && /E[SD]T\)/.test(document.querySelector('.next-at').textContent)`, 20*time.Second)
	})

	t.Run("filters", func(t *testing.T) {
		do(t, ctx, "open the list", chromedp.Navigate(base+"/"))
		rows := `[...document.querySelectorAll('#pipelines-live tr[id^="p-"]')].map(r => r.id.slice(2)).join(" ")`
		waitJS(t, ctx, "every pipeline", rows+` === "broken_step daily_orders hello"`, 20*time.Second)
		do(t, ctx, "search", chromedp.SendKeys(chromedp.ID("pf-search"), "orders\n"))
		waitJS(t, ctx, "the search", `new URLSearchParams(location.search).get("search") === "orders" && `+rows+` === "daily_orders" && document.querySelector('#pf-count').textContent === "1 pipeline matches"`, 20*time.Second)
		do(t, ctx, "clear", chromedp.Click(chromedp.ID("pf-clear")))
		waitJS(t, ctx, "cleared", `location.search === "" && `+rows+` === "broken_step daily_orders hello"`, 20*time.Second)
		eval[bool](t, ctx, `(() => { const s = document.querySelector('#pf-tag'); s.value = "demo"; s.dispatchEvent(new Event('change', {bubbles: true})); return true })()`)
		waitJS(t, ctx, "the tag", `new URLSearchParams(location.search).get("tag") === "demo" && `+rows+` === "broken_step hello"`, 20*time.Second)
		eval[bool](t, ctx, `(() => { const s = document.querySelector('#pf-state'); s.value = "none"; s.dispatchEvent(new Event('change', {bubbles: true})); return true })()`)
		waitJS(t, ctx, "tag and no runs", `new URLSearchParams(location.search).get("state") === "none" && `+rows+` === "broken_step hello"`, 20*time.Second)
		noCSPViolations(t, ctx)
		br.shot(ctx, "pipelines-filters")
		// A tag of a row links to the list of that tag.
		do(t, ctx, "open the list", chromedp.Navigate(base+"/"))
		waitJS(t, ctx, "tags on the rows", `document.querySelector('#p-daily_orders .ptag')`, 20*time.Second)
		do(t, ctx, "click a tag", chromedp.Click(chromedp.CSS(`#p-daily_orders a.ptag[href="/?tag=warehouse"]`)))
		waitJS(t, ctx, "the tag's list", `location.search === "?tag=warehouse" && `+rows+` === "daily_orders" && document.querySelector('#pf-tag').value === "warehouse"`, 20*time.Second)
	})

	t.Run("browse", func(t *testing.T) {
		// A failed run of broken_step and a good one of hello.
		for _, id := range []string{"broken_step", "hello"} {
			do(t, ctx, "open the trigger form of "+id, chromedp.Navigate(base+"/pipelines/"+id+"/trigger"))
			waitJS(t, ctx, "the form", `document.querySelector('#trigger-form button[type=submit]')`, 20*time.Second)
			do(t, ctx, "trigger "+id, chromedp.Click(chromedp.CSS("#trigger-form button[type=submit]")))
			waitJS(t, ctx, "the run of "+id, `location.pathname.startsWith("/runs/") && /success|failed/.test(document.querySelector('.badge').textContent)`, 30*time.Second)
		}
		do(t, ctx, "open Browse", chromedp.Navigate(base+"/"))
		waitJS(t, ctx, "the nav", `document.querySelector('nav.nav a[href="/browse"]')`, 20*time.Second)
		do(t, ctx, "go to Browse", chromedp.Click(chromedp.CSS(`nav.nav a[href="/browse"]`)))
		runs := `[...document.querySelectorAll('#browse-list tbody tr')].map(r => r.querySelector('td[data-label=Pipeline]').textContent.trim())`
		waitJS(t, ctx, "runs of every pipeline", `location.pathname === "/browse" && ["broken_step", "hello", "daily_orders"].every(p => `+runs+`.includes(p))`, 20*time.Second)
		// One click: what failed lately, everywhere.
		do(t, ctx, "failed in the last 12 hours", chromedp.Click(chromedp.ID("failed-12h")))
		waitJS(t, ctx, "the failed task", `location.pathname === "/browse/tasks" && `+runs+`.join(" ") === "broken_step" && document.querySelector('#browse-list tbody tr td[data-label=Task] a').textContent === "boom" && document.querySelector('#bf-state').value === "failed" && document.querySelector('#bf-since').value === "12h"`, 20*time.Second)
		noCSPViolations(t, ctx)
		br.shot(ctx, "browse-failed")
		do(t, ctx, "open the task", chromedp.Click(chromedp.CSS(`#browse-list tbody tr td[data-label=Task] a`)))
		waitJS(t, ctx, "the task's log page", `/^\/runs\/\d+\/tasks\/boom$/.test(location.pathname)`, 20*time.Second)
		// The runs tab, filtered by a tag.
		do(t, ctx, "open Browse runs", chromedp.Navigate(base+"/browse"))
		waitJS(t, ctx, "the tag picker", `document.querySelector('#bf-tag option[value=demo]')`, 20*time.Second)
		eval[bool](t, ctx, `(() => { const s = document.querySelector('#bf-tag'); s.value = "demo"; s.dispatchEvent(new Event('change', {bubbles: true})); return true })()`)
		waitJS(t, ctx, "runs tagged demo", `new URLSearchParams(location.search).get("tag") === "demo" && `+runs+`.length === 2 && `+runs+`.every(p => p === "broken_step" || p === "hello")`, 20*time.Second)
		br.shot(ctx, "browse-runs")
		do(t, ctx, "open a run", chromedp.Click(chromedp.CSS(`#browse-list tbody tr td[data-label=Run] a`)))
		waitJS(t, ctx, "the run page", `/^\/runs\/\d+$/.test(location.pathname)`, 20*time.Second)
	})

	t.Run("phone", func(t *testing.T) {
		phone := br.tab()
		do(t, phone, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		for _, path := range []string{"/?tag=demo", "/browse", "/browse/tasks?state=failed&since=12h"} {
			do(t, phone, "open "+path, chromedp.Navigate(base+path))
			waitJS(t, phone, "the page", `document.querySelector('#zone-choice') && (document.querySelector('#pipeline-filters') || document.querySelector('#browse-filters'))`, 20*time.Second)
			if w := eval[int](t, phone, `document.documentElement.scrollWidth`); w > 400 {
				t.Errorf("%s is %dpx wide on a 390px phone: %s", path, w, eval[string](t, phone, wideElements))
			}
		}
		br.shot(phone, "phone-browse")
	})
}
