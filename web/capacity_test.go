package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/capacity/capacitytest"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/sluicetest"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// TestCapacityPage renders the capacity page over 30 days of synthetic
// history that ends today (UTC), the day the page's clock shows.
func TestCapacityPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := sluicetest.NewClock(time.Now())
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := capacitytest.Seed(ctx, st, clock, capacitytest.Options{Seed: 3}); err != nil {
		t.Fatal(err)
	}
	au := auth.New(auth.Config{Store: st, Logger: quiet})
	srv := httptest.NewServer(server.Handler(st, au, nil, quiet))
	t.Cleanup(srv.Close)
	b := &testBundle{t: t, ctx: ctx, st: st, ctl: control.New(st, nil, quiet), url: srv.URL}
	b.user("vera", store.RoleViewer)
	c := b.login("vera")

	code, body := c.get("/capacity")
	if code != http.StatusOK {
		t.Fatalf("GET /capacity: %d\n%s", code, body)
	}
	for _, want := range []string{
		`<h1>Capacity</h1>`, `Trends of the last 28 days`,
		`<a href="/capacity" class="on" aria-current="page">Capacity</a>`,
		`at this growth, pool <code>warehouse</code> is full from `,
		`at this growth, runs of <code>events</code> take longer than their schedule interval (2h) from `,
		`id="pool-warehouse"`, `id="pipeline-events"`, `id="volume-daily_orders.load.rows"`,
		`<svg class="cap-chart" viewBox="0 0 400 170" role="img" aria-label="Utilisation of pool warehouse`,
		`class="trend"`, `class="limit"`, `Within 30 days`, `No risk`,
		`capacity.css`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script") && strings.Count(body, "<script") != strings.Count(body, `<script src="/static/`) {
		t.Error("an inline script on the page")
	}

	// A threshold draws its line and forecast; one of an unknown metric
	// is reported and the rest shown.
	_, body = c.get("/capacity?" + url.Values{"threshold": {"daily_orders.load.rows=5M"}}.Encode())
	for _, want := range []string{"metric <code>rows</code> of <code>daily_orders.load</code> passes 5M from", "threshold 5M"} {
		if !strings.Contains(body, want) {
			t.Errorf("with a threshold, the page lacks %q", want)
		}
	}
	_, body = c.get("/capacity?" + url.Values{"threshold": {"daily_orders.load.bytes=5G"}}.Encode())
	if !strings.Contains(body, `id="cap-problem" role="alert">threshold daily_orders.load.bytes=5G: no task reported the metric`) || !strings.Contains(body, `id="pool-warehouse"`) {
		t.Errorf("an unknown metric's threshold is not reported beside the report")
	}
	_, body = c.get("/capacity?threshold=nonsense")
	if !strings.Contains(body, `id="cap-problem"`) {
		t.Error("a malformed threshold is not reported")
	}

	// One pipeline; a bad window.
	_, body = c.get("/capacity?pipeline=events&days=14")
	if !strings.Contains(body, "Trends of the last 14 days") || strings.Contains(body, `id="pipeline-daily_orders"`) || !strings.Contains(body, `id="pipeline-events"`) {
		t.Error("pipeline=events&days=14 does not show events alone over 14 days")
	}
	if code, _ := c.get("/capacity?days=0"); code != http.StatusBadRequest {
		t.Errorf("days=0: %d, want 400", code)
	}
}

// TestCapacityPageEmpty: without history the page says so.
func TestCapacityPageEmpty(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("vera", store.RoleViewer)
	code, body := b.login("vera").get("/capacity")
	if code != http.StatusOK || !strings.Contains(body, "No runs in the last 28 days.") {
		t.Errorf("empty capacity page: %d\n%s", code, body)
	}
}

// TestCapacityPageNoHistoryYet: a scheduled pipeline that has not run yet
// is said to have no history, with what to do, not that its runs failed.
func TestCapacityPageNoHistoryYet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("vera", store.RoleViewer)
	b.upload("nightly.yaml", "id: nightly\nschedule: \"0 3 * * *\"\ntasks:\n  a:\n    run: echo hi\n")
	code, body := b.login("vera").get("/capacity")
	if code != http.StatusOK {
		t.Fatalf("capacity page: %d", code)
	}
	wantContains(t, "capacity page", body, "Too little data", "<code>nightly</code> has not run yet: no history to forecast from", "come back once its schedule has run it that long")
	wantNotContains(t, "capacity page", body, "did not succeed")
}
