package web_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
	"github.com/sluice-dev/sluice/web"
)

// TestRoutesPerRole requests every route of the UI as a viewer, an
// operator and an admin: a role the permissions table refuses gets 403 and
// a page that says which role it needs; a role it allows gets past the
// check (whatever the handler then says of the request's content).
func TestRoutesPerRole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("vic", store.RoleViewer)
	b.user("otto", store.RoleOperator)
	b.user("ada", store.RoleAdmin)
	b.upload("report.yaml", paramsPipeline)
	run, err := b.ctl.Trigger(b.ctx, "report", map[string]any{"label": "weekly"}, "test")
	must(t, err)
	b.runToEnd("done")
	runID := strconv.FormatInt(run.ID, 10)
	params := strings.NewReplacer("{id}", "report", "{task}", "extract", "{name}", "nobody", "{run}", runID, "{attempt}", "1", "{$}", "")
	clients := map[store.Role]*client{
		store.RoleViewer:   b.login("vic"),
		store.RoleOperator: b.login("otto"),
		store.RoleAdmin:    b.login("ada"),
	}
	routes := web.Routes()
	if len(routes) < 60 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, rt := range routes {
		if !rt.Action.Valid() {
			t.Errorf("%s %s: action %q is not in the permissions table", rt.Method, rt.Path, rt.Action)
			continue
		}
		path := params.Replace(rt.Path)
		switch {
		case strings.HasPrefix(rt.Path, "/runs/{id}"), strings.HasPrefix(rt.Path, "/backfills/{id}"), strings.HasPrefix(rt.Path, "/events/runs/{id}"):
			path = strings.Replace(rt.Path, "{id}", runID, 1)
			path = params.Replace(path)
		case strings.HasPrefix(rt.Path, "/admin/tokens/{id}"):
			path = strings.Replace(rt.Path, "{id}", "999", 1)
		}
		for _, role := range store.Roles {
			c := clients[role]
			if rt.Path == "/logout" {
				c = b.login(map[store.Role]string{store.RoleViewer: "vic", store.RoleOperator: "otto", store.RoleAdmin: "ada"}[role])
			}
			status, body := request(t, c, rt, path)
			allowed := role.Allows(rt.Action.Role())
			what := string(role) + " " + rt.Method + " " + path
			switch {
			case !allowed && status != http.StatusForbidden:
				t.Errorf("%s: %d, want 403 (the action %s needs %s)", what, status, rt.Action, rt.Action.Role())
			case !allowed && !strings.Contains(body, "needs the "+string(rt.Action.Role())+" role"):
				t.Errorf("%s: the 403 page does not say which role it needs:\n%s", what, shorten(body))
			case allowed && (status == http.StatusForbidden || status == http.StatusUnauthorized):
				t.Errorf("%s: %d, but %s may %s:\n%s", what, status, role, rt.Action, shorten(body))
			}
		}
	}
}

// request sends one request of a route as the client's session, with its
// CSRF token on a POST. An event stream is read only up to its headers.
func request(t *testing.T, c *client, rt web.Route, path string) (int, string) {
	t.Helper()
	if rt.Method == http.MethodPost {
		st, body, _ := c.post(path, c.form())
		return st, body
	}
	if !rt.Stream {
		return c.get(path)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.b.url+path, nil)
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, ""
	}
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	return resp.StatusCode, string(buf[:n])
}

// TestUIAndAPIAgree pairs each form of the UI with the API route that does
// the same thing: both must name the same action, so no role may do in one
// what the other refuses.
func TestUIAndAPIAgree(t *testing.T) {
	t.Parallel()
	pairs := []struct{ ui, api string }{
		{"POST /pipelines/{id}/pause", "POST /api/v1/pipelines/{id}/pause"},
		{"POST /pipelines/{id}/trigger", "POST /api/v1/pipelines/{id}/runs"},
		{"POST /pipelines/{id}/backfills", "POST /api/v1/pipelines/{id}/backfills"},
		{"POST /backfills/{id}/cancel", "POST /api/v1/backfills/{backfill}/cancel"},
		{"POST /pipelines/{id}/delete", "DELETE /api/v1/pipelines/{id}"},
		{"POST /upload", "POST /api/v1/pipelines"},
		{"POST /runs/{id}/cancel", "POST /api/v1/runs/{run}/cancel"},
		{"POST /runs/{id}/retry", "POST /api/v1/runs/{run}/retry"},
		{"POST /runs/{id}/tasks/{task}/clear", "POST /api/v1/runs/{run}/tasks/{task}/clear"},
		{"POST /runs/{id}/clear", "POST /api/v1/runs/{run}/clear"},
		{"POST /runs/{id}/mark", "POST /api/v1/runs/{run}/mark"},
		{"POST /runs/{id}/tasks/{task}/mark", "POST /api/v1/runs/{run}/tasks/{task}/mark"},
		{"GET /pools", "GET /api/v1/pools"},
		{"POST /pools", "PUT /api/v1/pools/{name}"},
		{"POST /pools/{name}/delete", "DELETE /api/v1/pools/{name}"},
		{"GET /variables", "GET /api/v1/variables"},
		{"POST /variables", "PUT /api/v1/variables/{name}"},
		{"POST /variables/{name}/delete", "DELETE /api/v1/variables/{name}"},
		{"GET /secrets", "GET /api/v1/secrets"},
		{"POST /secrets", "PUT /api/v1/secrets/{name}"},
		{"POST /secrets/{name}/delete", "DELETE /api/v1/secrets/{name}"},
		{"GET /workers", "GET /api/v1/workers"},
		{"GET /capacity", "GET /api/v1/capacity"},
		{"GET /runs/{id}/tasks/{task}/log.txt", "GET /api/v1/runs/{run}/tasks/{task}/logs"},
		{"GET /admin/users", "GET /api/v1/users"},
		{"POST /admin/users", "POST /api/v1/users"},
		{"POST /admin/users/{name}/role", "PATCH /api/v1/users/{name}"},
		{"POST /admin/users/{name}/disabled", "PATCH /api/v1/users/{name}"},
		{"POST /admin/users/{name}/delete", "DELETE /api/v1/users/{name}"},
		{"GET /admin/tokens", "GET /api/v1/tokens"},
		{"POST /admin/tokens", "POST /api/v1/tokens"},
		{"POST /admin/tokens/{id}/revoke", "DELETE /api/v1/tokens/{token}"},
	}
	ui := map[string]auth.Action{}
	for _, rt := range web.Routes() {
		ui[rt.Method+" "+rt.Path] = rt.Action
	}
	apiRoutes := map[string]auth.Action{}
	for _, rt := range api.Routes() {
		apiRoutes[rt.Method+" "+rt.Path] = rt.Action
	}
	for _, p := range pairs {
		u, ok1 := ui[p.ui]
		a, ok2 := apiRoutes[p.api]
		if !ok1 || !ok2 {
			t.Errorf("no route %q (UI %v) or %q (API %v)", p.ui, ok1, p.api, ok2)
			continue
		}
		if u != a {
			t.Errorf("%s does %s but %s does %s", p.ui, u, p.api, a)
		}
	}
}

// TestEventStreamEndsWithItsUser: a page's event stream was allowed when
// it opened; it closes once its user is disabled.
func TestEventStreamEndsWithItsUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	must(t, err)
	t.Cleanup(func() { st.Close() })
	au := auth.New(auth.Config{Store: st, Logger: quiet, RecheckEvery: 20 * time.Millisecond})
	srv := httptest.NewServer(server.Handler(st, au, nil, quiet))
	t.Cleanup(srv.Close)
	b := &testBundle{t: t, ctx: ctx, st: st, ctl: control.New(st, nil, quiet), url: srv.URL}
	b.user("vic", store.RoleViewer)
	c := b.login("vic")
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, http.MethodGet, srv.URL+"/events/pipelines", nil)
	resp, err := c.http.Do(req)
	must(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() {
		t.Fatalf("no first line: %v", sc.Err())
	}
	yes := true
	must(t, st.UserUpdate(ctx, &store.UserUpdateParams{Name: "vic", Disabled: &yes}))
	for sc.Scan() {
	}
	if sctx.Err() != nil {
		t.Fatal("the stream of a disabled user still ran after 30s")
	}
}
