package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/sluicetest"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// TestZoneChoice checks that the next run of a 03:00 Europe/Warsaw
// pipeline reads as 03:00 in the pipeline's zone, 02:00 in UTC and 21:00
// the day before in a New York browser, with the date beside the time,
// and that the choice is kept in a cookie across requests.
func TestZoneChoice(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	b := setupWith(t, sqlite.Options{Clock: sluicetest.NewClock(now)})
	b.user("ada", store.RoleAdmin)
	b.upload("daily.yaml", "id: daily_orders\nschedule: \"0 3 * * *\"\ntimezone: Europe/Warsaw\nstart: 2026-01-01\ncatchup: false\ntasks:\n  a:\n    run: echo hi\n")
	// Today's run exists, so the next one is tomorrow's.
	today := time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC)
	_, _, err := b.st.RunCreate(b.ctx, &store.RunCreateParams{PipelineID: "daily_orders", Key: scheduler.RunKey(today), Kind: store.RunScheduled, LogicalDate: today, Params: []byte("{}")})
	must(t, err)
	c := b.login("ada")
	u, _ := url.Parse(b.url)
	// What app.js tells the server: the browser's zone.
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "sluice_tz", Value: url.QueryEscape("America/New_York"), Path: "/"}})

	for _, tc := range []struct{ choice, list, head, footer string }{
		{"local", "Dec 04 21:00 EST", "(Dec 04 21:00 EST)", "America/New_York"},
		{"utc", "Dec 05 02:00 UTC", "(Dec 05 02:00 UTC)", "UTC"},
		{"pipeline", "Dec 05 03:00 CET", "(Dec 05 03:00 CET)", "Europe/Warsaw"},
	} {
		st, _, resp := c.post("/prefs/zone", c.form("zone", tc.choice, "back", "/pipelines/daily_orders"))
		if st != http.StatusSeeOther || resp.Header.Get("Location") != "/pipelines/daily_orders" {
			t.Fatalf("%s: POST /prefs/zone: %d %s", tc.choice, st, resp.Header.Get("Location"))
		}
		_, body := c.get("/")
		wantContains(t, tc.choice+": pipelines list", body, `<div class="muted small next-at">`+tc.list+`</div>`)
		_, body = c.get("/pipelines/daily_orders")
		wantContains(t, tc.choice+": pipeline page", body, `<span class="muted next-at">`+tc.head+`</span>`)
		wantContains(t, tc.choice+": footer", body, `<span class="muted" id="zone-name">`+tc.footer+`</span>`)
		wantContains(t, tc.choice+": picker", body, `<option value="`+tc.choice+`" selected>`)
	}

	// A page about no pipeline says which zone it falls back to.
	_, body := c.get("/workers")
	wantContains(t, "workers footer", body, "each pipeline&#39;s timezone (America/New_York elsewhere)")

	// The choice is the user's: in another browser (a new login, no
	// cookie of the choice) it is the same.
	other := b.login("ada")
	other.http.Jar.SetCookies(u, []*http.Cookie{{Name: "sluice_tz", Value: url.QueryEscape("Asia/Tokyo"), Path: "/"}})
	_, body = other.get("/pipelines/daily_orders")
	wantContains(t, "another browser: picker", body, `<option value="pipeline" selected>`)
	wantContains(t, "another browser: pipeline page", body, `<span class="muted next-at">(Dec 05 03:00 CET)</span>`)
	_, body = other.get("/workers")
	wantContains(t, "another browser: footer", body, "each pipeline&#39;s timezone (Asia/Tokyo elsewhere)")
	// A choice made there comes back here.
	if st, _, _ := other.post("/prefs/zone", other.form("zone", "utc")); st != http.StatusSeeOther {
		t.Fatalf("POST /prefs/zone in the other browser: %d", st)
	}
	_, body = c.get("/pipelines/daily_orders")
	wantContains(t, "back in the first browser", body, `<option value="utc" selected>`)
	b.user("bea", store.RoleViewer)
	_, body = b.login("bea").get("/pipelines/daily_orders")
	wantContains(t, "another user keeps the default", body, `<option value="local" selected>`)

	// Without the session's CSRF token, no change.
	if st, _, _ := c.post("/prefs/zone", url.Values{"zone": {"utc"}}); st != http.StatusForbidden {
		t.Errorf("POST /prefs/zone without a CSRF token: status %d, want 403", st)
	}
	st, body, _ := c.post("/prefs/zone", c.form("zone", "mars"))
	if st != http.StatusBadRequest {
		t.Fatalf("unknown zone choice: status %d, want 400:\n%s", st, shorten(body))
	}
	wantContains(t, "unknown zone choice", body, "want local, utc or pipeline")
}

// TestZoneOfRunPages checks that a run's page and a task's log page read
// times in the pipeline's zone when the reader chose it.
func TestZoneOfRunPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("ada", store.RoleAdmin)
	b.upload("daily.yaml", "id: daily_orders\nschedule: \"0 3 * * *\"\ntimezone: Asia/Tokyo\ntasks:\n  a:\n    run: echo hi\n")
	at := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC) // 03:00 the next day in Tokyo
	run, _, err := b.st.RunCreate(b.ctx, &store.RunCreateParams{PipelineID: "daily_orders", Key: scheduler.RunKey(at), Kind: store.RunScheduled, LogicalDate: at, Params: []byte("{}")})
	must(t, err)
	c := b.login("ada")
	c.post("/prefs/zone", c.form("zone", "pipeline"))
	_, body := c.get(fmt.Sprintf("/runs/%d", run.ID))
	wantContains(t, "run page", body, "2026-12-05 03:00:00 JST")
	_, body = c.get("/browse")
	wantContains(t, "Browse, in each run's pipeline's zone", body, `<span title="2026-12-05 03:00:00 JST">Dec 05 03:00</span>`)
	c.post("/prefs/zone", c.form("zone", "utc"))
	_, body = c.get(fmt.Sprintf("/runs/%d", run.ID))
	wantContains(t, "run page in UTC", body, "2026-12-04 18:00:00 UTC")
}
