package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/sluicetest"
)

// These tests run the real sluice binary, built once in TestMain, and
// talk to `sluice server` over HTTP on port 0, as any client would. Every
// JSON response is checked against the schema the OpenAPI document gives
// for it, and TestMain fails the run when a route was never answered with
// success.

var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "sluice-api-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "sluice")
	build := exec.Command("go", "build", "-o", binary, "../cmd/sluice")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sluice:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.skip").Value.String() == "" {
		if missing := coverage.missing(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: no test got a successful answer from these routes:\n  %s\n", strings.Join(missing, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

// adminPassword is the first admin's password in every test server.
const adminPassword = "admin-password-1"

// testServer is a running `sluice server`.
type testServer struct {
	t     *testing.T
	url   string
	dir   string
	home  string
	pipes string
	admin string // the local CLI token: an admin API token
	done  chan struct{}

	mu  sync.Mutex
	log strings.Builder
}

// startServer starts `sluice server` on port 0 with the given pipeline
// files (name → content) in its pipelines folder.
func startServer(t *testing.T, files map[string]string) *testServer {
	t.Helper()
	s := newTestServer(t)
	for name, content := range files {
		s.writePipeline(name, content)
	}
	s.start("--rescan", "100ms", "--poll", "100ms")
	return s
}

// newTestServer makes a test server's folders; start runs it.
func newTestServer(t *testing.T) *testServer {
	t.Helper()
	dir := t.TempDir()
	s := &testServer{t: t, dir: dir, home: filepath.Join(dir, "home"), pipes: filepath.Join(dir, "pipelines"), done: make(chan struct{})}
	if err := os.Mkdir(s.pipes, 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// start runs `sluice server` on port 0 over the server's folders, with
// more flags, and waits until it listens and has written its CLI token.
func (s *testServer) start(flags ...string) {
	t := s.t
	t.Helper()
	dir := s.dir
	cmd := exec.Command(binary, append([]string{"server", "--listen", "127.0.0.1:0", "--home", s.home, "--pipelines", s.pipes, "--log-format", "json"}, flags...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SLUICE_ADMIN_PASSWORD="+adminPassword)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			s.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "listening" {
				listening <- rec["url"].(string)
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("server log:\n%s", s.logs())
		}
	})
	select {
	case s.url = <-listening:
	case <-s.done:
		t.Fatalf("server exited early:\n%s", s.logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not listen:\n%s", s.logs())
	}
	// The server writes the local CLI token once it listens, unless
	// authentication is off.
	if strings.Contains(strings.Join(flags, " "), "--auth none") {
		return
	}
	tokenFile := filepath.Join(s.home, "cli-token")
	waitFor(t, 30*time.Second, "the CLI token file", func() bool {
		data, err := os.ReadFile(tokenFile)
		s.admin = strings.TrimSpace(string(data))
		return err == nil && s.admin != ""
	})
}

func (s *testServer) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// writePipeline saves a pipeline file whole (see sluicetest.WriteFile).
func (s *testServer) writePipeline(name, content string) {
	s.t.Helper()
	sluicetest.WriteFile(s.t, filepath.Join(s.pipes, name), content)
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		<-tick.C
	}
}

// request is one HTTP request of a test.
type request struct {
	method, path string
	// json is marshalled as the body unless raw is set.
	json        any
	raw         []byte
	contentType string
	// token is sent as a bearer token; the session's cookie and CSRF token
	// are sent when session is set.
	token   string
	session *session
	csrf    string // overrides the session's CSRF token; "-" for none
	header  map[string]string
}

// session is a logged-in browser.
type session struct {
	cookie *http.Cookie
	csrf   string
}

// response is an HTTP response with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// errorBody returns the API error of a response.
func (r *response) errorBody(t *testing.T) api.ErrorBody {
	t.Helper()
	var e api.ErrorResponse
	r.decode(t, &e)
	return e.Error
}

var httpClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// do sends a request, checks that a JSON response matches the schema the
// OpenAPI document gives for it, and records the route as covered.
func (s *testServer) do(req request) *response {
	s.t.Helper()
	var body io.Reader
	switch {
	case req.raw != nil:
		body = bytes.NewReader(req.raw)
	case req.json != nil:
		b, err := json.Marshal(req.json)
		if err != nil {
			s.t.Fatal(err)
		}
		body = bytes.NewReader(b)
		if req.contentType == "" {
			req.contentType = "application/json"
		}
	}
	hr, err := http.NewRequest(req.method, s.url+req.path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if req.contentType != "" {
		hr.Header.Set("Content-Type", req.contentType)
	}
	if req.token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.token)
	}
	if req.session != nil {
		hr.AddCookie(req.session.cookie)
		csrf := req.session.csrf
		if req.csrf != "" {
			csrf = req.csrf
		}
		if csrf != "-" {
			hr.Header.Set("X-CSRF-Token", csrf)
		}
	}
	for k, v := range req.header {
		if k == "Host" {
			hr.Host = v // the header itself is not sent
			continue
		}
		hr.Header.Set(k, v)
	}
	resp, err := httpClient.Do(hr)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	out := &response{status: resp.StatusCode, header: resp.Header, body: data}
	checkResponse(s.t, hr, out)
	return out
}

// admin sends a request with the admin token.
func (s *testServer) asAdmin(method, path string, body any) *response {
	s.t.Helper()
	return s.do(request{method: method, path: path, json: body, token: s.admin})
}

// want fails the test unless the response has the status.
func (r *response) want(t *testing.T, status int) *response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

// wantError fails the test unless the response is the error.
func (r *response) wantError(t *testing.T, status int, code string) api.ErrorBody {
	t.Helper()
	r.want(t, status)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q", ct)
	}
	e := r.errorBody(t)
	if e.Code != code || e.Message == "" {
		t.Fatalf("error %+v, want code %s with a message", e, code)
	}
	return e
}

// login logs a user in and returns the session.
func (s *testServer) login(user, password string) *session {
	s.t.Helper()
	r := s.do(request{method: "POST", path: "/api/v1/login", json: api.LoginRequest{User: user, Password: password}}).want(s.t, 200)
	var res api.LoginResult
	r.decode(s.t, &res)
	if res.CSRFToken == "" || res.User != user {
		s.t.Fatalf("login: %s", r.body)
	}
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "sluice_session" {
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
				s.t.Fatalf("session cookie is not HttpOnly and SameSite=Lax: %+v", c)
			}
			return &session{cookie: c, csrf: res.CSRFToken}
		}
	}
	s.t.Fatalf("login set no session cookie: %v", r.header)
	return nil
}

// multipartBody is a form with one file part, the name sent as given.
func multipartBody(t *testing.T, filename string, content []byte, fields map[string]string) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, filename))
	h.Set("Content-Type", "application/yaml")
	part, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	part.Write(content)
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

// createUser adds a user through the API.
func (s *testServer) createUser(name, password, role string) {
	s.t.Helper()
	s.asAdmin("POST", "/api/v1/users", api.UserCreate{Name: name, Password: password, Role: role}).want(s.t, 201)
}

// createToken makes an API token through the API and returns its secret.
func (s *testServer) createToken(role string) string {
	s.t.Helper()
	var tk api.NewToken
	s.asAdmin("POST", "/api/v1/tokens", api.TokenCreate{Role: role, Name: role + " test token"}).want(s.t, 201).decode(s.t, &tk)
	return tk.Secret
}

// trigger starts a run and returns it.
func (s *testServer) trigger(pipeline string, params map[string]any) api.Run {
	s.t.Helper()
	var run api.Run
	s.asAdmin("POST", "/api/v1/pipelines/"+pipeline+"/runs", api.TriggerRequest{Params: params}).want(s.t, 201).decode(s.t, &run)
	return run
}

// waitRun waits until a run is in one of the states.
func (s *testServer) waitRun(id int64, states ...string) api.RunDetail {
	s.t.Helper()
	var d api.RunDetail
	waitFor(s.t, 60*time.Second, fmt.Sprintf("run %d to be %v", id, states), func() bool {
		d = api.RunDetail{}
		s.asAdmin("GET", fmt.Sprint("/api/v1/runs/", id), nil).want(s.t, 200).decode(s.t, &d)
		for _, st := range states {
			if d.State == st {
				return true
			}
		}
		return false
	})
	return d
}

// waitTask waits until a task of a run is in the state.
func (s *testServer) waitTask(id int64, task, state string) {
	s.t.Helper()
	waitFor(s.t, 60*time.Second, fmt.Sprintf("task %s of run %d to be %s", task, id, state), func() bool {
		var d api.TaskDetail
		s.asAdmin("GET", fmt.Sprintf("/api/v1/runs/%d/tasks/%s", id, task), nil).want(s.t, 200).decode(s.t, &d)
		return d.State == state
	})
}

// The OpenAPI document, compiled for checking responses.
var (
	docOnce  sync.Once
	doc      map[string]any
	compiler *jsonschema.Compiler
	docErr   error
	schemaMu sync.Mutex
	schemas  = map[string]*jsonschema.Schema{}
	routeMux = http.NewServeMux()
)

func loadDoc() {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(api.OpenAPI()))
	if err != nil {
		docErr = err
		return
	}
	doc = v.(map[string]any)
	compiler = jsonschema.NewCompiler()
	compiler.DefaultDraft(jsonschema.Draft2020)
	compiler.AssertFormat()
	docErr = compiler.AddResource("https://sluice.test/openapi.json", doc)
	for _, rt := range api.Routes() {
		routeMux.HandleFunc(rt.Method+" "+rt.Path, func(http.ResponseWriter, *http.Request) {})
	}
}

// pointerEscape escapes a JSON pointer token.
func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// checkResponse validates a JSON response against its schema in the
// OpenAPI document and records the route's coverage.
func checkResponse(t *testing.T, req *http.Request, r *response) {
	t.Helper()
	docOnce.Do(loadDoc)
	if docErr != nil {
		t.Fatalf("OpenAPI document: %v", docErr)
	}
	if !strings.HasPrefix(req.URL.Path, "/api/v1/") {
		return
	}
	if ct := r.header.Get("Content-Type"); strings.Contains(ct, "html") {
		t.Fatalf("%s %s answered HTML (%s): %s", req.Method, req.URL.Path, ct, r.body)
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("%s %s: no X-Content-Type-Options: nosniff", req.Method, req.URL.Path)
	}
	if r.header.Get(api.RequestIDHeader) == "" {
		t.Fatalf("%s %s: no %s header", req.Method, req.URL.Path, api.RequestIDHeader)
	}
	if secretValues.leaked(string(r.body)) {
		t.Fatalf("%s %s answered with a secret's value: %s", req.Method, req.URL, r.body)
	}
	_, pattern := routeMux.Handler(req)
	if pattern == "" {
		return // not a route: a 404 or 405, checked by the test
	}
	method, path, _ := strings.Cut(pattern, " ")
	if r.status >= 200 && r.status < 300 {
		coverage.hit(pattern)
	}
	if r.header.Get("Content-Type") != "application/json" || strings.HasSuffix(path, "openapi.json") {
		return
	}
	op, _ := doc["paths"].(map[string]any)[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
	resps := op["responses"].(map[string]any)
	code := fmt.Sprint(r.status)
	resp, ok := resps[code].(map[string]any)
	if !ok {
		if r.status < 400 {
			t.Fatalf("%s: status %d is not in the OpenAPI document", pattern, r.status)
		}
		code, resp = "default", resps["default"].(map[string]any)
	}
	loc := "https://sluice.test/openapi.json#/paths/" + pointerEscape(path) + "/" + strings.ToLower(method) + "/responses/" + code + "/content/application~1json/schema"
	if ref, ok := resp["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/responses/")
		loc = "https://sluice.test/openapi.json#/components/responses/" + name + "/content/application~1json/schema"
	}
	schemaMu.Lock()
	sch, ok := schemas[loc]
	if !ok {
		var err error
		if sch, err = compiler.Compile(loc); err != nil {
			schemaMu.Unlock()
			t.Fatalf("compiling the schema at %s: %v", loc, err)
		}
		schemas[loc] = sch
	}
	schemaMu.Unlock()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("%s answered %d with bad JSON: %v\n%s", pattern, r.status, err, r.body)
	}
	if err := sch.Validate(v); err != nil {
		t.Fatalf("%s answered %d with JSON the OpenAPI document does not allow: %v\n%s", pattern, r.status, err, r.body)
	}
}

// coverage records which routes answered with success.
var coverage = &routeCoverage{hits: map[string]bool{}}

type routeCoverage struct {
	mu   sync.Mutex
	hits map[string]bool
}

func (c *routeCoverage) hit(pattern string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hits[pattern] = true
}

func (c *routeCoverage) missing() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, rt := range api.Routes() {
		if p := rt.Method + " " + rt.Path; !c.hits[p] {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// query builds a path with a query.
func query(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Add(kv[i], kv[i+1])
	}
	return path + "?" + q.Encode()
}

// secretValues are the values of every secret a test set. No response of
// any test may contain one: checkResponse fails the test that gets it.
var secretValues = &secretSet{}

type secretSet struct {
	mu     sync.Mutex
	values []string
}

func (s *secretSet) add(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values = append(s.values, v)
}

// leaked reports whether text contains a secret's value.
func (s *secretSet) leaked(text string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.values {
		if strings.Contains(text, v) {
			return true
		}
	}
	return false
}

// setSecret sets a secret through the API and remembers its value, which
// no response may then contain.
func (s *testServer) setSecret(name, value string) {
	s.t.Helper()
	secretValues.add(value)
	s.asAdmin("PUT", "/api/v1/secrets/"+name, api.SecretSet{Value: value}).want(s.t, 204)
}
