package web_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluice-dev/sluice/capacity/capacitytest"
)

// TestBrowserCapacity opens the capacity page of a server whose data dir
// holds 30 days of synthetic history ending today (UTC), on a desktop and
// on a phone, and saves screenshots ($SLUICE_SCREENSHOTS keeps them).
func TestBrowserCapacity(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("browser tests are not short")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "pipelines"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := capacitytest.SeedDir(context.Background(), filepath.Join(dir, "home"), capacitytest.Options{Seed: 5}); err != nil {
		t.Fatal(err)
	}
	srv := startSluice(t, dir)
	br := newBrowser(t)
	ctx := br.ctx
	defer func() {
		if t.Failed() {
			t.Logf("sluice log:\n%s", srv.logs())
		}
	}()

	do(t, ctx, "open the capacity page", chromedp.Navigate(srv.url+"/capacity"))
	waitJS(t, ctx, "the login page", `location.pathname === "/login"`, 20*time.Second)
	do(t, ctx, "log in",
		chromedp.SendKeys(chromedp.ID("name"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(".login-card button[type=submit]")),
	)
	waitJS(t, ctx, "the capacity page", `location.pathname === "/capacity" && document.querySelector('#pool-warehouse svg.cap-chart')`, 20*time.Second)
	// Charts are drawn: lines with a point a day, the dashed trend, the
	// limit; risk is told in words.
	waitJS(t, ctx, "the warehouse chart", `document.querySelectorAll('#pool-warehouse path.line').length === 2 && document.querySelector('#pool-warehouse path.trend') && document.querySelector('#pool-warehouse line.limit') && document.querySelectorAll('#pool-warehouse circle.dot').length >= 40`, 10*time.Second)
	waitJS(t, ctx, "forecasts in words", `[...document.querySelectorAll('.cap-forecasts li')].some(li => /at this growth, pool warehouse is full from \d{4}-\d\d-\d\d/.test(li.textContent))`, 10*time.Second)
	waitJS(t, ctx, "risk labels", `document.querySelector('#pipeline-events .risk-label').textContent.trim() !== ""`, 10*time.Second)
	if w := eval[int](t, ctx, `Math.round(document.querySelector('#pool-warehouse svg.cap-chart').getBoundingClientRect().width)`); w < 300 {
		t.Errorf("the chart is %dpx wide", w)
	}
	noCSPViolations(t, ctx)
	br.shot(ctx, "capacity")

	// A threshold from the form: its line and forecast.
	do(t, ctx, "set a threshold",
		chromedp.SendKeys(chromedp.ID("cap-threshold"), "daily_orders.load.rows=3M"),
		chromedp.Click(chromedp.CSS(".cap-form button[type=submit]")),
	)
	waitJS(t, ctx, "the volume's threshold", `location.search.includes("threshold=") && document.querySelector('#volume-daily_orders\\.load\\.rows line.limit') && document.querySelector('#volume-daily_orders\\.load\\.rows .cap-msg').textContent.includes("passes 3M")`, 20*time.Second)
	do(t, ctx, "scroll to the volumes", chromedp.ScrollIntoView(chromedp.CSS("#volume-daily_orders\\.load\\.rows")))
	br.shot(ctx, "capacity-threshold")

	phone := br.tab()
	do(t, phone, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	do(t, phone, "open the capacity page", chromedp.Navigate(srv.url+"/capacity"))
	waitJS(t, phone, "the page", `document.querySelector('#pool-warehouse svg.cap-chart')`, 20*time.Second)
	if w := eval[int](t, phone, `document.documentElement.scrollWidth`); w > 400 {
		t.Errorf("the capacity page is %dpx wide on a 390px phone; too wide: %s", w, eval[string](t, phone, wideElements))
	}
	noCSPViolations(t, phone)
	br.shot(phone, "phone-capacity")
}
