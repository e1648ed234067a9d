package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/store"
)

// TestBrowse checks the Browse pages without a browser: runs and task
// instances of every pipeline, filtered, paged, linking to runs and tasks.
func TestBrowse(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("ada", store.RoleViewer)
	b.upload("orders.yaml", "id: orders_daily\ntags: [finance]\ntasks:\n  boom:\n    run: exit 3\n")
	b.upload("hello.yaml", "id: hello\ntags: [demo]\ntasks:\n  a:\n    run: echo hi\n")
	run := func(pipeline string, state sluice.AttemptState) *store.Run {
		t.Helper()
		r, _, err := b.st.RunCreate(b.ctx, &store.RunCreateParams{PipelineID: pipeline, Key: pipeline + time.Now().Format(time.RFC3339Nano), Kind: store.RunManual, LogicalDate: time.Now(), Params: []byte("{}")})
		must(t, err)
		cs, err := b.st.InstanceClaim(b.ctx, &store.InstanceClaimParams{Worker: "w", Limit: 10, LeaseDuration: time.Minute})
		must(t, err)
		for _, c := range cs {
			_, err := b.st.AttemptComplete(b.ctx, []*store.AttemptCompleteParams{{Lease: c.Lease, State: state, FinishedAt: time.Now()}})
			must(t, err)
		}
		return r
	}
	failed := run("orders_daily", sluice.AttemptFailed)
	ok := run("hello", sluice.AttemptSuccess)
	c := b.login("ada")

	_, body := c.get("/browse")
	wantContains(t, "runs", body, `<tr id="run-`)
	wantContains(t, "a run links to its page", body, `<a href="/runs/`)
	if !strings.Contains(body, `id="run-`+itoa(failed.ID)+`"`) || !strings.Contains(body, `id="run-`+itoa(ok.ID)+`"`) {
		t.Errorf("/browse lacks a run:\n%s", shorten(body))
	}
	_, body = c.get("/browse/tasks?state=failed&since=12h")
	wantContains(t, "the failed task links to its log", body, `href="/runs/`+itoa(failed.ID)+`/tasks/boom"`)
	if strings.Contains(body, "/tasks/a\"") {
		t.Errorf("the succeeded task is listed among the failed")
	}
	wantContains(t, "the tab keeps the filter", body, `href="/browse?since=12h&amp;state=failed"`)
	_, body = c.get("/browse?tag=demo")
	if !strings.Contains(body, `id="run-`+itoa(ok.ID)+`"`) || strings.Contains(body, `id="run-`+itoa(failed.ID)+`"`) {
		t.Errorf("/browse?tag=demo:\n%s", shorten(body))
	}
	_, body = c.get("/browse?until=2020-01-01")
	wantContains(t, "nothing", body, "Nothing matches these filters.")
	// Pages: 50 a page.
	for range 50 {
		run("hello", sluice.AttemptSuccess)
	}
	_, body = c.get("/browse")
	if n := strings.Count(body, `<tr id="run-`); n != 50 {
		t.Errorf("page 1 has %d runs", n)
	}
	wantContains(t, "page 1", body, `rel="next">Older →</a>`)
	st, body := c.get("/browse/tasks?state=done")
	if st != 400 || !strings.Contains(body, `state &#34;done&#34;`) {
		t.Errorf("bad state: %d\n%s", st, shorten(body))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestBrowseDatesInReadersZone: a date in Browse's range is midnight in
// the reader's zone, as the times on the page are, not in UTC. The run's
// logical date is 2026-12-04 13:00 UTC: 2026-12-05 03:00 in Kiritimati
// (UTC+14).
func TestBrowseDatesInReadersZone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("ada", store.RoleViewer)
	b.upload("hello.yaml", "id: hello\ntasks:\n  a:\n    run: echo hi\n")
	r, _, err := b.st.RunCreate(b.ctx, &store.RunCreateParams{PipelineID: "hello", Key: "k", Kind: store.RunManual, LogicalDate: time.Date(2026, 12, 4, 13, 0, 0, 0, time.UTC), Params: []byte("{}")})
	must(t, err)
	row := `id="run-` + itoa(r.ID) + `"`
	c := b.login("ada")
	u, _ := url.Parse(b.url)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "sluice_tz", Value: url.QueryEscape("Pacific/Kiritimati"), Path: "/"}})
	for _, tc := range []struct {
		query string
		in    bool
	}{
		{"since=2026-12-05", true}, // in UTC it would be after the run
		{"until=2026-12-05", false},
		{"since=2026-12-05T03:00", true},
		{"since=2026-12-05T03:01", false},
		{"since=2026-12-04T13:00:00Z", true},
	} {
		_, body := c.get("/browse?" + tc.query)
		if strings.Contains(body, row) != tc.in {
			t.Errorf("/browse?%s in Kiritimati: run listed %v, want %v", tc.query, !tc.in, tc.in)
		}
	}
	// A reader who chose UTC gives dates in UTC.
	st, _, _ := c.post("/prefs/zone", c.form("zone", "utc"))
	if st != http.StatusSeeOther {
		t.Fatalf("POST /prefs/zone: %d", st)
	}
	if _, body := c.get("/browse?since=2026-12-05"); strings.Contains(body, row) {
		t.Errorf("/browse?since=2026-12-05 in UTC lists the run of 2026-12-04 13:00 UTC")
	}
	if _, body := c.get("/browse?until=2026-12-05"); !strings.Contains(body, row) {
		t.Errorf("/browse?until=2026-12-05 in UTC does not list the run of 2026-12-04 13:00 UTC")
	}
}
