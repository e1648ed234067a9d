package web_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/store"
)

// TestPipelinesFilters checks the filters of the pipelines list: by tag,
// paused and search, in the page and in its live region, which keeps the
// filter when it refreshes.
func TestPipelinesFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("ada", store.RoleAdmin)
	b.upload("orders.yaml", "id: orders_daily\ndescription: Load the ORDERS\ntags: [finance, orders]\ntasks:\n  a:\n    run: echo hi\n")
	b.upload("hello.yaml", "id: hello\ndescription: Says hello\ntags: [demo]\ntasks:\n  a:\n    run: echo hi\n")
	b.upload("idle.yaml", "id: idle\ntasks:\n  a:\n    run: echo hi\n")
	if err := b.st.PipelineSetPaused(b.ctx, "idle", true); err != nil {
		t.Fatal(err)
	}
	c := b.login("ada")
	rows := func(path string) []string {
		t.Helper()
		st, body := c.get(path)
		if st != 200 {
			t.Fatalf("GET %s: %d\n%s", path, st, shorten(body))
		}
		var ids []string
		for _, id := range []string{"orders_daily", "hello", "idle"} {
			if strings.Contains(body, `<tr id="p-`+id+`"`) {
				ids = append(ids, id)
			}
		}
		return ids
	}
	for path, want := range map[string]string{
		"/":                              "orders_daily hello idle",
		"/?tag=finance":                  "orders_daily",
		"/live/pipelines?tag=demo":       "hello",
		"/?paused=true":                  "idle",
		"/?search=orders":                "orders_daily",
		"/?state=none&paused=false":      "orders_daily hello",
		"/live/pipelines?search=nothing": "",
	} {
		if got := strings.Join(rows(path), " "); got != want {
			t.Errorf("GET %s lists %q, want %q", path, got, want)
		}
	}
	_, body := c.get("/?tag=finance&search=load")
	wantContains(t, "the live region keeps the filter", body, `hx-get="/live/pipelines?search=load&amp;tag=finance"`)
	wantContains(t, "the events keep the filter", body, `sse-connect="/events/pipelines?fp=`)
	wantContains(t, "the tag is chosen", body, `<option value="finance" selected>finance</option>`)
	wantContains(t, "the row's tags link to their filter", body, `<a class="tag ptag" href="/?tag=orders"`)
	wantContains(t, "count", body, `1 pipeline matches`)
	_, body = c.get("/?search=nothing")
	wantContains(t, "nothing matches", body, "No pipeline matches these filters.")
	st, body := c.get("/?state=broken")
	if st != 400 || !strings.Contains(body, "want the state of the last run") {
		t.Errorf("bad state: %d\n%s", st, shorten(body))
	}
}

// TestPipelinesPages checks that the list shows 50 pipelines a page, with
// links to the pages around that keep the filters.
func TestPipelinesPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("ada", store.RoleAdmin)
	for i := range 60 {
		tag := "even"
		if i%2 == 1 {
			tag = "odd"
		}
		b.upload(fmt.Sprintf("p%02d.yaml", i), fmt.Sprintf("id: p%02d\ntags: [%s, all]\ntasks:\n  a:\n    run: echo hi\n", i, tag))
	}
	c := b.login("ada")
	_, body := c.get("/")
	if n := strings.Count(body, `<tr id="p-`); n != 50 {
		t.Errorf("page 1 has %d rows, want 50", n)
	}
	wantContains(t, "page 1", body, `<a href="/?page=2" rel="next">Next →</a>`)
	wantContains(t, "page 1", body, "page 1 of 2 · 60 pipelines")
	_, body = c.get("/?page=2")
	if n := strings.Count(body, `<tr id="p-`); n != 10 || !strings.Contains(body, `<tr id="p-p59"`) {
		t.Errorf("page 2 has %d rows, want 10 ending with p59", n)
	}
	wantContains(t, "page 2", body, `<a href="/" rel="prev">← Previous</a>`)
	wantContains(t, "page 2 follows itself live", body, `hx-get="/live/pipelines?page=2"`)
	wantContains(t, "page 2's events are of page 2", body, `&amp;page=2">`)
	_, body = c.get("/?page=9")
	if n := strings.Count(body, `<tr id="p-`); n != 10 {
		t.Errorf("a page past the last shows the last: %d rows", n)
	}
	_, body = c.get("/?tag=all&page=2")
	wantContains(t, "filtered page 2", body, `<a href="/?tag=all" rel="prev">← Previous</a>`)
	_, body = c.get("/?tag=odd")
	if n := strings.Count(body, `<tr id="p-`); n != 30 || strings.Contains(body, `id="pipelines-pager"`) {
		t.Errorf("tag odd: %d rows, want 30 on one page", n)
	}
}
