package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/api"
)

const manualPipeline = `id: manual
description: A pipeline that only runs when triggered
tasks:
  only:
    run: echo manual
`

func TestNoCredentials(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"manual.yaml": manualPipeline})
	for _, rt := range api.Routes() {
		if rt.Action == "" {
			continue
		}
		path := strings.NewReplacer("{id}", "manual", "{run}", "1", "{task}", "only", "{version}", "live", "{name}", "admin", "{token}", "1", "{backfill}", "1").Replace(rt.Path)
		r := s.do(request{method: rt.Method, path: path})
		r.wantError(t, http.StatusUnauthorized, "unauthorized")
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s %s: 401 without WWW-Authenticate", rt.Method, rt.Path)
		}
	}
	// A token that is not one.
	s.do(request{method: "GET", path: "/api/v1/pipelines", token: "slc_not-a-token"}).wantError(t, 401, "unauthorized")
	s.do(request{method: "GET", path: "/api/v1/pipelines", header: map[string]string{"Authorization": "Basic YWRtaW46eA=="}}).wantError(t, 401, "unauthorized")
	// The session cookie of no session.
	s.do(request{method: "GET", path: "/api/v1/me", session: &session{cookie: &http.Cookie{Name: "sluice_session", Value: "forged"}}}).wantError(t, 401, "unauthorized")
	// Wrong passwords.
	s.do(request{method: "POST", path: "/api/v1/login", json: api.LoginRequest{User: "admin", Password: "wrong-password"}}).wantError(t, 401, "unauthorized")
	s.do(request{method: "POST", path: "/api/v1/login", json: api.LoginRequest{User: "nobody", Password: "wrong-password"}}).wantError(t, 401, "unauthorized")
	s.do(request{method: "POST", path: "/api/v1/login", json: api.LoginRequest{User: "admin"}}).wantError(t, 422, "invalid")
}

func TestRoles(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"manual.yaml": manualPipeline})
	s.createUser("vera", "viewer-password", "viewer")
	s.createUser("otto", "operator-password", "operator")

	// A viewer's session reads but does not trigger, even with its CSRF
	// token.
	vera := s.login("vera", "viewer-password")
	s.do(request{method: "GET", path: "/api/v1/pipelines", session: vera}).want(t, 200)
	e := s.do(request{method: "POST", path: "/api/v1/pipelines/manual/runs", session: vera, json: api.TriggerRequest{}}).wantError(t, 403, "forbidden")
	if !strings.Contains(e.Message, "operator") {
		t.Errorf("403 message does not say which role is needed: %q", e.Message)
	}
	var runs api.RunList
	s.asAdmin("GET", "/api/v1/runs", nil).want(t, 200).decode(t, &runs)
	if len(runs.Runs) != 0 {
		t.Fatalf("a forbidden trigger made a run: %+v", runs.Runs)
	}

	// A viewer token cannot upload; an operator token cannot either, but
	// triggers.
	viewer, operator := s.createToken("viewer"), s.createToken("operator")
	src := []byte("id: uploaded\ntasks:\n  a:\n    run: echo hi\n")
	body, ct := multipartBody(t, "uploaded.yaml", src, nil)
	s.do(request{method: "POST", path: "/api/v1/pipelines", raw: body, contentType: ct, token: viewer}).wantError(t, 403, "forbidden")
	s.do(request{method: "POST", path: "/api/v1/pipelines", raw: body, contentType: ct, token: operator}).wantError(t, 403, "forbidden")
	s.asAdmin("GET", "/api/v1/pipelines/uploaded", nil).wantError(t, 404, "not_found")
	s.do(request{method: "POST", path: "/api/v1/pipelines/manual/runs", token: viewer}).wantError(t, 403, "forbidden")
	s.do(request{method: "POST", path: "/api/v1/pipelines/manual/runs", token: operator}).want(t, 201)
	s.do(request{method: "GET", path: "/api/v1/users", token: operator}).wantError(t, 403, "forbidden")
	s.do(request{method: "POST", path: "/api/v1/tokens", token: operator, json: api.TokenCreate{Role: "admin"}}).wantError(t, 403, "forbidden")

	var me api.Me
	s.do(request{method: "GET", path: "/api/v1/me", token: operator}).want(t, 200).decode(t, &me)
	if me.Role != "operator" || me.Via != "token" || me.CSRFToken != "" {
		t.Fatalf("me = %+v", me)
	}
	otto := s.login("otto", "operator-password")
	s.do(request{method: "GET", path: "/api/v1/me", session: otto}).want(t, 200).decode(t, &me)
	if me.Name != "otto" || me.Role != "operator" || me.Via != "session" || me.CSRFToken != otto.csrf {
		t.Fatalf("me = %+v", me)
	}
}

// TestCSRF checks that a session's state-changing requests need its CSRF
// token and the same origin, and that bearer tokens need neither.
func TestCSRF(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"manual.yaml": manualPipeline})
	sess := s.login("admin", adminPassword)
	paused := func() bool {
		var p api.PipelineDetail
		s.asAdmin("GET", "/api/v1/pipelines/manual", nil).want(t, 200).decode(t, &p)
		return p.Paused
	}

	// Without the token, or with another: refused, and nothing changed.
	e := s.do(request{method: "POST", path: "/api/v1/pipelines/manual/pause", session: sess, csrf: "-"}).wantError(t, 403, "forbidden")
	if !strings.Contains(e.Message, "CSRF") {
		t.Errorf("message %q does not name the CSRF token", e.Message)
	}
	s.do(request{method: "POST", path: "/api/v1/pipelines/manual/pause", session: sess, csrf: "not-the-token"}).wantError(t, 403, "forbidden")
	if paused() {
		t.Fatal("a request without the CSRF token paused the pipeline")
	}
	// A cross-site request, even with the token: refused.
	for _, h := range []map[string]string{{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}} {
		e = s.do(request{method: "POST", path: "/api/v1/pipelines/manual/pause", session: sess, header: h}).wantError(t, 403, "forbidden")
		if !strings.Contains(e.Message, "cross-origin") {
			t.Errorf("%v: message %q", h, e.Message)
		}
	}
	if paused() {
		t.Fatal("a cross-site request paused the pipeline")
	}
	// With the token, from the same origin: done.
	s.do(request{method: "POST", path: "/api/v1/pipelines/manual/pause", session: sess, header: map[string]string{"Sec-Fetch-Site": "same-origin"}}).want(t, 200)
	if !paused() {
		t.Fatal("the pipeline is not paused")
	}
	// The token may come as a form field, as from a page's upload form.
	src := []byte("id: formed\ntasks:\n  a:\n    run: echo hi\n")
	body, ct := multipartBody(t, "formed.yaml", src, map[string]string{"csrf_token": sess.csrf})
	s.do(request{method: "POST", path: "/api/v1/pipelines", raw: body, contentType: ct, session: sess, csrf: "-"}).want(t, 201)
	body, ct = multipartBody(t, "formed.yaml", src, nil)
	s.do(request{method: "POST", path: "/api/v1/pipelines", raw: body, contentType: ct, session: sess, csrf: "-"}).wantError(t, 403, "forbidden")

	// A bearer token needs no CSRF token.
	s.do(request{method: "POST", path: "/api/v1/pipelines/manual/unpause", token: s.admin}).want(t, 200)
	if paused() {
		t.Fatal("the bearer request did not unpause")
	}

	// Logging in again needs no token, even with a session cookie; logging
	// out needs one.
	s.do(request{method: "POST", path: "/api/v1/login", session: sess, csrf: "-", json: api.LoginRequest{User: "admin", Password: adminPassword}}).want(t, 200)
	s.do(request{method: "POST", path: "/api/v1/logout", session: sess, csrf: "-"}).wantError(t, 403, "forbidden")
	r := s.do(request{method: "POST", path: "/api/v1/logout", session: sess}).want(t, 204)
	if !strings.Contains(r.header.Get("Set-Cookie"), "sluice_session=;") {
		t.Errorf("logout did not clear the cookie: %q", r.header.Get("Set-Cookie"))
	}
	s.do(request{method: "GET", path: "/api/v1/me", session: sess}).wantError(t, 401, "unauthorized")
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	for i := range 5 {
		r := s.do(request{method: "POST", path: "/api/v1/login", json: api.LoginRequest{User: "admin", Password: fmt.Sprint("wrong-", i)}})
		r.wantError(t, 401, "unauthorized")
	}
	// Now even the right password waits.
	r := s.do(request{method: "POST", path: "/api/v1/login", json: api.LoginRequest{User: "admin", Password: adminPassword}})
	e := r.wantError(t, 429, "too_many_requests")
	if r.header.Get("Retry-After") == "" || !strings.Contains(e.Message, "wait") {
		t.Fatalf("429 without Retry-After or advice: %v %q", r.header, e.Message)
	}
	// Tokens are not limited.
	s.asAdmin("GET", "/api/v1/me", nil).want(t, 200)
}

func TestRoutingErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	e := s.asAdmin("GET", "/api/v1/no-such-thing", nil).wantError(t, 404, "not_found")
	if !strings.Contains(e.Message, "no such API route") {
		t.Errorf("message %q", e.Message)
	}
	s.asAdmin("GET", "/api/v2/pipelines", nil).wantError(t, 404, "not_found")
	r := s.asAdmin("PUT", "/api/v1/pipelines", nil)
	r.wantError(t, 405, "method_not_allowed")
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("Allow = %q", allow)
	}
	s.asAdmin("DELETE", "/api/v1/runs", nil).wantError(t, 405, "method_not_allowed")
	// Malformed requests.
	s.do(request{method: "POST", path: "/api/v1/login", raw: []byte("{not json"), contentType: "application/json"}).wantError(t, 400, "bad_request")
	s.do(request{method: "POST", path: "/api/v1/login", raw: []byte(`{"user":"a","password":"b","extra":1}`), contentType: "application/json"}).wantError(t, 400, "bad_request")
	s.do(request{method: "POST", path: "/api/v1/login", raw: []byte(`{"user":"a","password":"b"} {}`), contentType: "application/json"}).wantError(t, 400, "bad_request")
	s.asAdmin("GET", "/api/v1/runs/abc", nil).wantError(t, 400, "bad_request")
	s.asAdmin("GET", "/api/v1/runs/0", nil).wantError(t, 400, "bad_request")
}
