package web_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/catalog"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// testBundle is a web server over a real SQLite store.
type testBundle struct {
	t   *testing.T
	ctx context.Context
	st  store.Store
	ctl *control.Control
	url string
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupWith(t, sqlite.Options{})
}

// setupWith is setup over a store opened with o (its clock, for one).
func setupWith(t *testing.T, o sqlite.Options) *testBundle {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	au := auth.New(auth.Config{Store: st, Logger: quiet})
	srv := httptest.NewServer(server.Handler(st, au, nil, quiet))
	t.Cleanup(srv.Close)
	return &testBundle{t: t, ctx: ctx, st: st, ctl: control.New(st, nil, quiet), url: srv.URL}
}

// user creates a user whose password is "password-" + name.
func (b *testBundle) user(name string, role store.Role) {
	b.t.Helper()
	hash, err := auth.HashPassword("password-" + name)
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := b.st.UserCreate(b.ctx, &store.UserCreateParams{Name: name, PasswordHash: hash, Role: role}); err != nil {
		b.t.Fatal(err)
	}
}

// upload stores a pipeline file as uploaded.
func (b *testBundle) upload(name, src string) {
	b.t.Helper()
	if _, err := b.ctl.Upload(b.ctx, name, []byte(src), "test"); err != nil {
		b.t.Fatalf("upload %s: %v", name, err)
	}
}

// client is a browser-like client with a session.
type client struct {
	t    *testing.T
	b    *testBundle
	http *http.Client
	csrf string
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)">`)

// anon returns a client without a session, which does not follow
// redirects.
func (b *testBundle) anon() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: b.t, b: b, http: &http.Client{
		Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// login logs a user in and reads the CSRF token from the first page.
func (b *testBundle) login(name string) *client {
	b.t.Helper()
	c := b.anon()
	st, _, resp := c.post("/login", url.Values{"name": {name}, "password": {"password-" + name}, "next": {"/"}})
	if st != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		b.t.Fatalf("login %s: %d %s", name, st, resp.Header.Get("Location"))
	}
	_, body := c.get("/")
	m := csrfMeta.FindStringSubmatch(body)
	if m == nil || m[1] == "" {
		b.t.Fatalf("no CSRF token on the first page after login:\n%s", body)
	}
	c.csrf = m[1]
	return c
}

func (c *client) do(req *http.Request) (int, string, *http.Response) {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp
}

func (c *client) get(path string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.b.url+path, nil)
	st, body, _ := c.do(req)
	return st, body
}

// post posts a form as the browser would from one of the UI's pages
// (same origin), with the headers given as name, value pairs.
func (c *client) post(path string, form url.Values, headers ...string) (int, string, *http.Response) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.b.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.b.url)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

// form returns the values with the session's CSRF token added.
func (c *client) form(kv ...string) url.Values {
	v := url.Values{"csrf_token": {c.csrf}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// multipart posts a file as the upload form does.
func (c *client) multipart(path, field, name, content string, fields url.Values, headers ...string) (int, string, *http.Response) {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile(field, name)
	_, _ = fw.Write([]byte(content))
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.b.url+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", c.b.url)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

const paramsPipeline = `id: report
description: A report with params
params:
  region: {type: enum, values: [eu, us], default: eu, description: where the data lives}
  rows: {type: int, default: 3}
  ratio: {type: float, default: 0.5}
  dry: {type: bool, default: true}
  label: {type: string, required: true}
tasks:
  extract:
    run: echo "extract $SLUICE_PARAM_REGION"
  load:
    depends_on: [extract]
    run: echo load
`

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantContains(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s: no %q in:\n%s", what, w, shorten(body))
		}
	}
}

func wantNotContains(t *testing.T, what, body string, nots ...string) {
	t.Helper()
	for _, n := range nots {
		if strings.Contains(body, n) {
			t.Errorf("%s: unexpected %q in:\n%s", what, n, shorten(body))
		}
	}
}

func shorten(s string) string {
	if len(s) > 6000 {
		return s[:6000] + "…"
	}
	return s
}

// runToEnd claims and completes every ready instance of the store, with a
// log line for each, until none is left.
func (b *testBundle) runToEnd(logLine string) {
	b.t.Helper()
	for i := 0; i < 50; i++ {
		claims, err := b.st.InstanceClaim(b.ctx, &store.InstanceClaimParams{Worker: "test-worker", Limit: 10, LeaseDuration: time.Minute})
		must(b.t, err)
		if len(claims) == 0 {
			return
		}
		var ps []*store.AttemptCompleteParams
		for _, c := range claims {
			line := fmt.Sprintf("%d o %s %s\n%d e oops on stderr\n%d s sluice: a note\n", time.Now().UnixMicro(), c.TaskID, logLine, time.Now().UnixMicro(), time.Now().UnixMicro())
			must(b.t, b.st.AttemptLogAppend(b.ctx, &store.AttemptLogAppendParams{Lease: c.Lease, Chunk: store.LogChunk{Seq: 1, Data: []byte(line)}}))
			if c.TaskID == "load" { // as the worker of a container task records it
				must(b.t, b.st.AttemptSetContainer(b.ctx, c.Lease, "localhost/etl:2.1", "0123456789abcdef0123"))
			}
			if c.TaskID == "extract" { // and of a Kubernetes pod task
				must(b.t, b.st.AttemptSetContainer(b.ctx, c.Lease, "busybox:1", "pod/etl/sluice-report-extract-1"))
			}
			ps = append(ps, &store.AttemptCompleteParams{Lease: c.Lease, State: sluice.AttemptSuccess, FinishedAt: time.Now(), Outputs: map[string]string{"rows": "3"}})
		}
		res, err := b.st.AttemptComplete(b.ctx, ps)
		must(b.t, err)
		for _, e := range res {
			must(b.t, e)
		}
	}
	b.t.Fatal("runToEnd: work never ran out")
}

func TestPagesRender(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("ada", store.RoleAdmin)
	b.upload("report.yaml", paramsPipeline)
	b.upload("report.yaml", strings.Replace(paramsPipeline, "echo load", "echo loaded", 1))
	run, err := b.ctl.Trigger(b.ctx, "report", map[string]any{"label": "weekly"}, "test")
	must(t, err)
	b.runToEnd("hello from the task")
	c := b.login("ada")

	versions, err := b.st.VersionList(b.ctx, "report")
	must(t, err)
	pages := []struct {
		path  string
		wants []string
	}{
		{"/", []string{"report", "A report with params", "manual only", `href="/runs/1"`, "Trigger", `role="switch"`}},
		{"/pipelines/report", []string{"Grid", "extract", "load", `href="/runs/1/tasks/extract"`, "st-success"}},
		{"/pipelines/report/graph", []string{`<svg class="dag"`, "extract", "marker-end", "success"}},
		{"/pipelines/report/code", []string{"echo loaded", "live", "Compare versions"}},
		{fmt.Sprintf("/pipelines/report/code?from=%d&to=%d", versions[1].ID, versions[0].ID), []string{`d-del`, `d-add`, "echo loaded"}},
		{"/pipelines/report/runs", []string{"#1", "manual", "success"}},
		{"/pipelines/report/trigger", []string{`name="param.region"`, `type="number"`, `step="any"`, `type="checkbox"`, "required", "where the data lives"}},
		{"/pipelines/report/delete", []string{"Type <code>report</code> to confirm"}},
		{fmt.Sprintf("/runs/%d", run.ID), []string{"Run 1", `<svg class="gantt-plot"`, `data-state="success"`, "label", "weekly"}},
		{fmt.Sprintf("/runs/%d/tasks/extract", run.ID), []string{"hello from the task", `class="ll s-e"`, `class="ll s-s"`, "Outputs", "rows", "busybox:1 · pod/etl/sluice-report-extract-1"}},
		{fmt.Sprintf("/runs/%d/tasks/load", run.ID), []string{"localhost/etl:2.1", "0123456789ab", `title="container 0123456789abcdef0123"`}},
		{"/upload", []string{`enctype="multipart/form-data"`, `hx-encoding="multipart/form-data"`}},
		{"/admin/users", []string{"ada", "Add a user"}},
		{"/admin/tokens", []string{"Create a token"}},
	}
	for _, p := range pages {
		st, body := c.get(p.path)
		if st != http.StatusOK {
			t.Errorf("GET %s: %d\n%s", p.path, st, shorten(body))
			continue
		}
		wantContains(t, p.path, body, p.wants...)
		wantContains(t, p.path, body, `<meta name="csrf-token" content="`+c.csrf+`">`, `X-CSRF-Token`)
	}
	if st, body := c.get("/runs/999"); st != http.StatusNotFound || !strings.Contains(body, "not found") {
		t.Errorf("missing run: %d", st)
	}
	st, body := c.get(fmt.Sprintf("/runs/%d/tasks/extract/log.txt", run.ID))
	if st != http.StatusOK || !strings.Contains(body, "hello from the task") {
		t.Errorf("log.txt: %d %s", st, body)
	}
}

func TestLoginFlow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("ada", store.RoleAdmin)
	c := b.anon()
	st, _, resp := c.do(mustReq(t, http.MethodGet, b.url+"/pipelines/x?tab=1"))
	if st != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fpipelines%2Fx%3Ftab%3D1" {
		t.Fatalf("anonymous page: %d %q", st, resp.Header.Get("Location"))
	}
	st, body, _ := c.post("/login", url.Values{"name": {"ada"}, "password": {"wrong-password"}, "next": {"/pipelines/x"}})
	if st != http.StatusUnauthorized || !strings.Contains(body, "wrong user name or password") || !strings.Contains(body, `value="ada"`) {
		t.Fatalf("bad password: %d\n%s", st, body)
	}
	st, _, resp = c.post("/login", url.Values{"name": {"ada"}, "password": {"password-ada"}, "next": {"//evil.example/"}})
	if st != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login must not redirect off the site: %d %q", st, resp.Header.Get("Location"))
	}
	_, body = c.get("/")
	m := csrfMeta.FindStringSubmatch(body)
	if m == nil || m[1] == "" {
		t.Fatal("no CSRF token after login")
	}
	c.csrf = m[1]
	// Logging out needs the token too.
	if st, _, _ := c.post("/logout", url.Values{}); st != http.StatusForbidden {
		t.Fatalf("logout without token: %d", st)
	}
	if st, _, resp := c.post("/logout", c.form()); st != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d", st)
	}
	if st, _ := c.get("/"); st != http.StatusSeeOther {
		t.Fatalf("after logout: %d", st)
	}
	// Event streams answer 401 rather than redirect.
	if st, _ := c.get("/events/pipelines"); st != http.StatusUnauthorized {
		t.Fatalf("anonymous event stream: %d", st)
	}
}

func mustReq(t *testing.T, method, url string) *http.Request {
	req, err := http.NewRequest(method, url, nil)
	must(t, err)
	return req
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("ada", store.RoleAdmin)
	const evil = `<script>alert(1)</script>`
	// Task ids cannot hold markup in a file, but the UI must not rely on
	// that: store a version whose task id, description and param are evil.
	p := &pipeline.Pipeline{
		ID: "xss", Description: "desc " + evil, Timezone: "UTC", MaxActiveRuns: 1,
		Params: map[string]*pipeline.Param{"p": {Type: pipeline.ParamString, Default: evil, Description: evil}},
		Tasks: map[string]*pipeline.Task{
			evil:   {ID: evil, Kind: pipeline.KindNoop},
			"next": {ID: "next", Kind: pipeline.KindNoop, DependsOn: []string{evil}},
		},
	}
	_, err := b.st.PipelineSave(b.ctx, catalog.SaveParams(p, []byte("id: xss # "+evil+"\n"), ""))
	must(t, err)
	must(t, b.st.PipelineSetError(b.ctx, &store.PipelineSetErrorParams{ID: "xss", File: "/p/xss.yaml", Error: "xss.yaml:3:5: task id \"" + evil + "\" is not valid"}))
	run, err := b.ctl.Trigger(b.ctx, "xss", nil, "test")
	must(t, err)
	b.runToEnd(evil)
	c := b.login("ada")
	for _, path := range []string{
		"/", "/pipelines/xss", "/pipelines/xss/graph", "/pipelines/xss/code", "/pipelines/xss/trigger",
		fmt.Sprintf("/runs/%d", run.ID), fmt.Sprintf("/runs/%d/tasks/%s", run.ID, url.PathEscape(evil)),
	} {
		st, body := c.get(path)
		if st != http.StatusOK {
			t.Errorf("GET %s: %d\n%s", path, st, shorten(body))
			continue
		}
		wantNotContains(t, path, body, evil, "<script>alert")
		wantContains(t, path, body, "&lt;script&gt;alert(1)&lt;/script&gt;")
	}
	// The log line arrives by the event stream too, as escaped HTML.
	events := c.stream(fmt.Sprintf("/events/logs/%d/%s/1?after=0", run.ID, url.PathEscape(evil)), "lines")
	wantNotContains(t, "log event", events, evil)
	wantContains(t, "log event", events, "&lt;script&gt;alert(1)&lt;/script&gt;")
	// Upload errors quote the file's text; they are escaped too.
	st, body, _ := c.multipart("/upload", "file", "bad.yaml", "id: bad\ntasks:\n  \""+evil+"\":\n    run: echo\n", c.form())
	if st != http.StatusUnprocessableEntity {
		t.Fatalf("upload with a bad task id: %d", st)
	}
	wantNotContains(t, "upload errors", body, evil)
	wantContains(t, "upload errors", body, "bad.yaml:3:3", "&lt;script&gt;")
	// A hostile file gets a positioned 422 here too, without the work.
	deep := "id: deep\nx: " + strings.Repeat("[", 200_000) + strings.Repeat("]", 200_000) + "\n"
	if st, body, _ := c.multipart("/upload", "file", "deep.yaml", deep, c.form()); st != http.StatusUnprocessableEntity {
		t.Fatalf("upload of a deep file: %d", st)
	} else {
		wantContains(t, "deep upload", body, "deep.yaml:2:67", "nesting deeper than 64 levels")
	}
}

// stream reads an event stream until an event named name arrives and
// returns what was read.
func (c *client) stream(path, name string) string {
	c.t.Helper()
	read, err := c.streamErr(path, name)
	if err != nil {
		c.t.Fatal(err)
	}
	return read
}

// streamErr is stream for other goroutines than the test's.
func (c *client) streamErr(path, name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.b.url+path, nil)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return "", fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var read strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	seen := false
	for sc.Scan() {
		line := sc.Text()
		read.WriteString(line + "\n")
		if line == "event: "+name {
			seen = true
		}
		if seen && line == "" {
			return read.String(), nil
		}
	}
	return "", fmt.Errorf("GET %s: no %q event (err %v); read:\n%s", path, name, sc.Err(), read.String())
}

// eventData returns the data of the last event in what stream read.
func eventData(read string) string {
	data := ""
	for _, line := range strings.Split(read, "\n") {
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			data = d
		}
	}
	return data
}

func TestRoles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("vic", store.RoleViewer)
	b.user("otto", store.RoleOperator)
	b.upload("report.yaml", paramsPipeline)
	viewer := b.login("vic")
	for _, path := range []string{"/", "/pipelines/report"} {
		_, body := viewer.get(path)
		wantNotContains(t, "viewer "+path, body, "/trigger", `action="/pipelines/report/pause"`, "/delete", `href="/upload"`, `href="/admin/users"`)
	}
	for _, path := range []string{"/pipelines/report/trigger", "/upload", "/admin/users", "/admin/tokens", "/pipelines/report/delete"} {
		if st, _ := viewer.get(path); st != http.StatusForbidden {
			t.Errorf("viewer GET %s: %d, want 403", path, st)
		}
	}
	// A viewer's POST with a valid CSRF token is still refused by role.
	st, body, _ := viewer.post("/pipelines/report/trigger", viewer.form("param.label", "x"))
	if st != http.StatusForbidden || !strings.Contains(body, "needs the operator role") {
		t.Fatalf("viewer trigger: %d\n%s", st, shorten(body))
	}
	if st, _, _ := viewer.post("/pipelines/report/pause", viewer.form("paused", "true")); st != http.StatusForbidden {
		t.Fatalf("viewer pause: %d", st)
	}
	runs, err := b.st.RunList(b.ctx, &store.RunListParams{PipelineID: "report"})
	must(t, err)
	sp, err := b.st.PipelineGet(b.ctx, "report")
	must(t, err)
	if len(runs) != 0 || sp.Paused {
		t.Fatalf("a viewer changed something: %d runs, paused %v", len(runs), sp.Paused)
	}

	op := b.login("otto")
	_, body = op.get("/")
	wantContains(t, "operator home", body, "/pipelines/report/trigger", `action="/pipelines/report/pause"`)
	wantNotContains(t, "operator home", body, `href="/upload"`, `href="/admin/users"`)
	if st, _ := op.get("/upload"); st != http.StatusForbidden {
		t.Errorf("operator GET /upload: %d", st)
	}
	if st, _, _ := op.multipart("/upload", "file", "x.yaml", "id: x\ntasks:\n  a: {run: echo}\n", op.form()); st != http.StatusForbidden {
		t.Errorf("operator upload: %d", st)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("ada", store.RoleAdmin)
	b.upload("report.yaml", paramsPipeline)
	c := b.login("ada")
	refused := []struct {
		name    string
		form    url.Values
		headers []string
	}{
		{"no token", url.Values{"paused": {"true"}}, nil},
		{"wrong token", url.Values{"paused": {"true"}, "csrf_token": {"nope"}}, nil},
		{"wrong header", url.Values{"paused": {"true"}}, []string{"X-CSRF-Token", "nope"}},
		{"cross-site with the token", c.form("paused", "true"), []string{"Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example"}},
		{"other origin with the token", c.form("paused", "true"), []string{"Sec-Fetch-Site", "", "Origin", "http://evil.example"}},
	}
	for _, r := range refused {
		st, body, _ := c.post("/pipelines/report/pause", r.form, r.headers...)
		if st != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", r.name, st)
		}
		wantContains(t, r.name, body, "403")
		if !strings.Contains(body, "CSRF token") && !strings.Contains(body, "cross-origin request refused") {
			t.Errorf("%s: the page does not say why:\n%s", r.name, shorten(body))
		}
	}
	if st, _, _ := c.post("/pipelines/report/trigger", url.Values{"param.label": {"x"}}); st != http.StatusForbidden {
		t.Errorf("trigger without token: %d", st)
	}
	if st, _, _ := c.multipart("/upload", "file", "x.yaml", "id: x\ntasks:\n  a: {run: echo}\n", nil); st != http.StatusForbidden {
		t.Errorf("upload without token: %d", st)
	}
	sp, err := b.st.PipelineGet(b.ctx, "report")
	must(t, err)
	runs, err := b.st.RunList(b.ctx, &store.RunListParams{})
	must(t, err)
	if _, err := b.st.PipelineGet(b.ctx, "x"); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Errorf("refused upload stored the pipeline: %v", err)
	}
	if sp.Paused || len(runs) != 0 {
		t.Fatalf("a refused request changed something: paused %v, %d runs", sp.Paused, len(runs))
	}
	// The form field and the htmx header both work.
	if st, _, resp := c.post("/pipelines/report/pause", c.form("paused", "true", "back", "/pipelines/report")); st != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/pipelines/report?notice=") {
		t.Fatalf("pause with the token: %d %q", st, resp.Header.Get("Location"))
	}
	st, body, resp := c.post("/pipelines/report/pause", url.Values{"paused": {"false"}}, "X-CSRF-Token", c.csrf, "HX-Request", "true")
	if st != http.StatusOK || resp.Header.Get("HX-Trigger") != "sluice:refresh" || !strings.Contains(body, "unpaused") {
		t.Fatalf("htmx unpause: %d %q\n%s", st, resp.Header.Get("HX-Trigger"), body)
	}
}

func TestTriggerForm(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("ada", store.RoleAdmin)
	b.upload("report.yaml", paramsPipeline)
	c := b.login("ada")
	st, body, _ := c.post("/pipelines/report/trigger", c.form("param.region", "us", "param.rows", "many", "param.ratio", "0.25",
		"param.dry", "false", "param.dry", "true", "param.label", ""))
	if st != http.StatusUnprocessableEntity {
		t.Fatalf("bad params: %d\n%s", st, shorten(body))
	}
	wantContains(t, "bad params", body, `param &#34;rows&#34;: want an int, got &#34;many&#34;`, `value="many"`, `value="0.25"`,
		`<option value="us" selected>`, "missing: it is required", `aria-invalid="true"`)
	if runs, _ := b.st.RunList(b.ctx, &store.RunListParams{}); len(runs) != 0 {
		t.Fatalf("a bad trigger created a run")
	}
	// htmx gets the form alone, with the same errors.
	st, body, _ = c.post("/pipelines/report/trigger", c.form("param.rows", "1.5", "param.label", "x"), "HX-Request", "true")
	if st != http.StatusUnprocessableEntity || strings.Contains(body, "<html") || !strings.Contains(body, `id="trigger-form"`) {
		t.Fatalf("htmx bad params: %d\n%s", st, shorten(body))
	}
	st, _, resp := c.post("/pipelines/report/trigger", c.form("param.region", "us", "param.rows", "7", "param.ratio", "",
		"param.dry", "false", "param.label", "weekly"))
	if st != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/runs/") {
		t.Fatalf("trigger: %d %q", st, resp.Header.Get("Location"))
	}
	runs, err := b.st.RunList(b.ctx, &store.RunListParams{})
	must(t, err)
	if len(runs) != 1 || string(runs[0].Params) != `{"dry":false,"label":"weekly","ratio":0.5,"region":"us","rows":7}` {
		t.Fatalf("runs: %d %s", len(runs), runs[0].Params)
	}
	st, _, resp = c.post("/pipelines/report/trigger", c.form("param.label", "again"), "HX-Request", "true")
	if st != http.StatusOK || !strings.HasPrefix(resp.Header.Get("HX-Redirect"), "/runs/") {
		t.Fatalf("htmx trigger: %d %q", st, resp.Header.Get("HX-Redirect"))
	}
}

func TestUpload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("ada", store.RoleAdmin)
	c := b.login("ada")
	bad := "id: bad\ntasks:\n  a:\n    runn: echo\n    retries: x\n"
	st, body, _ := c.multipart("/upload", "file", "bad.yaml", bad, c.form())
	if st != http.StatusUnprocessableEntity {
		t.Fatalf("bad file: %d", st)
	}
	wantContains(t, "bad file", body, "bad.yaml:4:5", `unknown key &#34;runn&#34;`, "hint: did you mean", "bad.yaml:5:14", "nothing was stored", "<html")
	st, body, _ = c.multipart("/upload", "file", "bad.yaml", bad, nil, "X-CSRF-Token", c.csrf, "HX-Request", "true")
	if st != http.StatusUnprocessableEntity || strings.Contains(body, "<html") || !strings.Contains(body, `id="upload-result"`) || !strings.Contains(body, "bad.yaml:4:5") {
		t.Fatalf("htmx bad file: %d\n%s", st, shorten(body))
	}
	st, body, _ = c.multipart("/upload", "file", "good.yaml", "id: good\ntasks:\n  a: {run: echo hi}\n", c.form())
	if st != http.StatusOK {
		t.Fatalf("good file: %d\n%s", st, shorten(body))
	}
	wantContains(t, "good file", body, `href="/pipelines/good"`, "is live")
	if _, err := b.st.PipelineGet(b.ctx, "good"); err != nil {
		t.Fatal(err)
	}
	big := "id: big\n#" + strings.Repeat("x", control.MaxUpload+100<<10) + "\ntasks:\n  a: {run: echo}\n"
	for _, hx := range []bool{false, true} {
		var st int
		var body string
		if hx {
			st, body, _ = c.multipart("/upload", "file", "big.yaml", big, nil, "X-CSRF-Token", c.csrf, "HX-Request", "true")
		} else {
			st, body, _ = c.multipart("/upload", "file", "big.yaml", big, c.form())
		}
		if st != http.StatusRequestEntityTooLarge || !strings.Contains(strings.ToLower(body), "file too large") {
			t.Errorf("too large (htmx %v): %d\n%s", hx, st, shorten(body))
		}
	}
	st, body, _ = c.multipart("/upload", "file", "almost.yaml", "id: almost\n#"+strings.Repeat("x", control.MaxUpload)+"\ntasks:\n  a: {run: echo}\n", c.form())
	if st != http.StatusRequestEntityTooLarge || !strings.Contains(body, "file too large") {
		t.Errorf("over MaxUpload: %d\n%s", st, shorten(body))
	}
}

func TestRunActions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("otto", store.RoleOperator)
	b.upload("report.yaml", paramsPipeline)
	run, err := b.ctl.Trigger(b.ctx, "report", map[string]any{"label": "x"}, "test")
	must(t, err)
	c := b.login("otto")
	st, body, _ := c.post(fmt.Sprintf("/runs/%d/cancel", run.ID), c.form(), "HX-Request", "true")
	if st != http.StatusOK || !strings.Contains(body, "cancelled") {
		t.Fatalf("cancel: %d %s", st, body)
	}
	got, err := b.st.RunGet(b.ctx, run.ID)
	must(t, err)
	if got.State != sluice.RunCancelled {
		t.Fatalf("run is %s", got.State)
	}
	// Cancelling again conflicts; htmx shows the message in place.
	st, body, _ = c.post(fmt.Sprintf("/runs/%d/cancel", run.ID), c.form(), "HX-Request", "true")
	if st != http.StatusConflict || !strings.Contains(body, `class="notice error"`) {
		t.Fatalf("cancel twice: %d %s", st, body)
	}
	st, _, resp := c.post(fmt.Sprintf("/runs/%d/tasks/extract/clear", run.ID), c.form())
	if st != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), fmt.Sprintf("/runs/%d?notice=", run.ID)) {
		t.Fatalf("clear: %d %q", st, resp.Header.Get("Location"))
	}
	st, _, _ = c.post(fmt.Sprintf("/runs/%d/tasks/extract/mark", run.ID), c.form("state", "success"))
	if st != http.StatusSeeOther {
		t.Fatalf("mark: %d", st)
	}
	in, err := b.st.InstanceGet(b.ctx, run.ID, "extract")
	must(t, err)
	if in.State != sluice.InstanceSuccess {
		t.Fatalf("extract is %s", in.State)
	}
	if st, _, _ := c.post(fmt.Sprintf("/runs/%d/tasks/extract/mark", run.ID), c.form("state", "running")); st != http.StatusBadRequest {
		t.Fatalf("mark running: %d", st)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("ada", store.RoleAdmin)
	b.upload("report.yaml", paramsPipeline)
	c := b.login("ada")
	st, body, _ := c.post("/pipelines/report/delete", c.form("confirm", "repor"))
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, "exactly to confirm") || !strings.Contains(body, `value="repor"`) {
		t.Fatalf("wrong confirmation: %d", st)
	}
	// A pipeline whose file is still in the pipelines folder would come
	// back: the page says so.
	file := filepath.Join(t.TempDir(), "fromfile.yaml")
	must(t, os.WriteFile(file, []byte("id: fromfile\ntasks:\n  a: {run: echo}\n"), 0o644))
	p, err := pipeline.Parse("fromfile.yaml", []byte("id: fromfile\ntasks:\n  a: {run: echo}\n"))
	must(t, err)
	_, err = b.st.PipelineSave(b.ctx, catalog.SaveParams(p, []byte("id: fromfile\n"), file))
	must(t, err)
	st, body, _ = c.post("/pipelines/fromfile/delete", c.form("confirm", "fromfile"))
	if st != http.StatusConflict || !strings.Contains(body, "which still exists") || !strings.Contains(body, `name="and_file"`) {
		t.Fatalf("delete with its file: %d\n%s", st, shorten(body))
	}
	if st, _, _ := c.post("/pipelines/fromfile/delete", c.form("confirm", "fromfile", "and_file", "true")); st != http.StatusSeeOther {
		t.Fatalf("delete with its file, and the file: %d", st)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("the file is still there: %v", err)
	}
	st, _, resp := c.post("/pipelines/report/delete", c.form("confirm", "report"))
	if st != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/?notice=") {
		t.Fatalf("delete: %d %q", st, resp.Header.Get("Location"))
	}
	if _, err := b.st.PipelineGet(b.ctx, "report"); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("still there: %v", err)
	}
}

func TestAdminUsersAndTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("ada", store.RoleAdmin)
	c := b.login("ada")
	st, body, _ := c.post("/admin/users", c.form("name", "bob", "role", "operator", "password", "short"))
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, "at least 8 characters") || !strings.Contains(body, `value="bob"`) {
		t.Fatalf("short password: %d", st)
	}
	if st, _, _ := c.post("/admin/users", c.form("name", "bob", "role", "operator", "password", "password-bob")); st != http.StatusSeeOther {
		t.Fatalf("create: %d", st)
	}
	if st, body, _ := c.post("/admin/users", c.form("name", "bob", "role", "viewer", "password", "password-bob")); st != http.StatusUnprocessableEntity || !strings.Contains(body, "already a user") {
		t.Fatalf("duplicate: %d", st)
	}
	c.post("/admin/users/bob/role", c.form("role", "viewer"))
	c.post("/admin/users/bob/disabled", c.form("disabled", "true"))
	u, err := b.st.UserGet(b.ctx, "bob")
	must(t, err)
	if u.Role != store.RoleViewer || !u.Disabled {
		t.Fatalf("bob: %+v", u)
	}
	if st, body, _ := c.post("/admin/users/ada/delete", c.form()); st != http.StatusConflict || !strings.Contains(body, "your own account") {
		t.Fatalf("delete self: %d", st)
	}
	c.post("/admin/users/bob/delete", c.form())
	if _, err := b.st.UserGet(b.ctx, "bob"); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("bob still there: %v", err)
	}

	st, body, _ = c.post("/admin/tokens", c.form("name", "nightly job", "role", "operator", "expires", "30"))
	if st != http.StatusOK {
		t.Fatalf("token: %d", st)
	}
	secret := regexp.MustCompile(`value="(slc_[^"]+)"`).FindStringSubmatch(body)
	if secret == nil || !strings.Contains(body, "shown only this once") {
		t.Fatalf("the secret is not shown:\n%s", shorten(body))
	}
	tk, err := b.st.TokenGet(b.ctx, auth.HashSecret(secret[1]))
	must(t, err)
	if tk.Role != store.RoleOperator || tk.CreatedBy != "ada" || tk.ExpiresAt == nil {
		t.Fatalf("token: %+v", tk)
	}
	_, body = c.get("/admin/tokens")
	wantContains(t, "tokens", body, "nightly job")
	wantNotContains(t, "tokens", body, secret[1])
	if st, _, _ := c.post(fmt.Sprintf("/admin/tokens/%d/revoke", tk.ID), c.form()); st != http.StatusSeeOther {
		t.Fatalf("revoke: %d", st)
	}
	if _, err := b.st.TokenGet(b.ctx, auth.HashSecret(secret[1])); sluice.ErrorCode(err) != sluice.ENOTFOUND {
		t.Fatalf("revoked token still works: %v", err)
	}

	// A token for a service account acts for it, no more than its role.
	b.user("ci-bot", store.RoleOperator)
	_, body = c.get("/admin/tokens")
	wantContains(t, "token form", body, `<select id="tk-for" name="for">`, `<option value="ci-bot">ci-bot (operator)</option>`)
	st, body, _ = c.post("/admin/tokens", c.form("name", "too much", "role", "admin", "expires", "30", "for", "ci-bot"))
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, "the user is operator") {
		t.Fatalf("an admin token for an operator: %d\n%s", st, shorten(body))
	}
	st, body, _ = c.post("/admin/tokens", c.form("name", "ci", "role", "operator", "expires", "30", "for", "ci-bot"))
	secret = regexp.MustCompile(`value="(slc_[^"]+)"`).FindStringSubmatch(body)
	if st != http.StatusOK || secret == nil {
		t.Fatalf("token for ci-bot: %d", st)
	}
	tk, err = b.st.TokenGet(b.ctx, auth.HashSecret(secret[1]))
	must(t, err)
	if tk.User == nil || tk.User.Name != "ci-bot" || tk.CreatedBy != "ada" {
		t.Fatalf("token for ci-bot: %+v", tk)
	}
	_, body = c.get("/admin/tokens")
	wantContains(t, "tokens", body, `<td data-label="Acts for">ci-bot</td>`)
}

func TestEventStreams(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user("vic", store.RoleViewer)
	b.upload("report.yaml", paramsPipeline)
	c := b.login("vic")
	// A stale fingerprint gets "changed" at once.
	for _, path := range []string{"/events/pipelines?fp=stale", "/events/pipelines/report?fp=stale"} {
		c.stream(path, "changed")
	}
	run, err := b.ctl.Trigger(b.ctx, "report", map[string]any{"label": "x"}, "test")
	must(t, err)
	c.stream(fmt.Sprintf("/events/runs/%d?fp=stale", run.ID), "changed")

	// The event carries the new fingerprint; a stream given the current
	// one stays quiet until the run changes.
	fp := eventData(c.stream(fmt.Sprintf("/events/runs/%d?fp=stale", run.ID), "changed"))
	done := make(chan error, 1)
	go func() {
		_, err := c.streamErr(fmt.Sprintf("/events/runs/%d?fp=%s", run.ID, fp), "changed")
		done <- err
	}()
	b.runToEnd("line")
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("no change event after the run finished")
	}
	// A stream of something deleted says so once, and stays open.
	for _, path := range []string{"/events/pipelines/nope?fp=x", "/events/runs/999?fp=x"} {
		if got := eventData(c.stream(path, "changed")); got != "gone" {
			t.Errorf("%s: %q", path, got)
		}
	}
	events := c.stream(fmt.Sprintf("/events/logs/%d/extract/1?after=0", run.ID), "lines")
	wantContains(t, "log stream", events, "id: 1", "extract line", `class="ll s-e"`)
}
