package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
)

// TestTokensActForTheirUser: a token made by a user acts for that user. A
// demoted user's tokens do no more than the new role; a disabled or
// deleted user's tokens are refused at once, and their sessions end.
func TestTokensActForTheirUser(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"manual.yaml": manualPipeline})
	s.createUser("dora", "dora-password", "admin")
	dora := s.login("dora", "dora-password")
	var tk api.NewToken
	s.do(request{method: "POST", path: "/api/v1/tokens", session: dora, json: api.TokenCreate{Name: "dora's ci", Role: "admin"}}).want(t, 201).decode(t, &tk)
	if tk.User != "dora" || tk.System || !tk.Usable {
		t.Fatalf("token = %+v, want dora's", tk.Token)
	}
	me := func(secret string) api.Me {
		t.Helper()
		var m api.Me
		s.do(request{method: "GET", path: "/api/v1/me", token: secret}).want(t, 200).decode(t, &m)
		return m
	}
	if m := me(tk.Secret); m.Name != "dora" || m.Role != "admin" || m.Via != "token" || m.Token != "dora's ci" {
		t.Fatalf("me = %+v", m)
	}
	// A token made with a token belongs to the same user.
	var sub api.NewToken
	s.do(request{method: "POST", path: "/api/v1/tokens", token: tk.Secret, json: api.TokenCreate{Name: "made with a token", Role: "operator"}}).want(t, 201).decode(t, &sub)
	if sub.User != "dora" || sub.System {
		t.Fatalf("token made with dora's token = %+v", sub.Token)
	}

	// Demoted: the admin token does what a viewer does.
	role := "viewer"
	s.asAdmin("PATCH", "/api/v1/users/dora", api.UserUpdate{Role: &role}).want(t, 200)
	if m := me(tk.Secret); m.Role != "viewer" {
		t.Fatalf("a demoted user's admin token has role %q", m.Role)
	}
	e := s.do(request{method: "POST", path: "/api/v1/pipelines/manual/runs", token: tk.Secret}).wantError(t, 403, "forbidden")
	if !strings.Contains(e.Message, "needs the operator role") {
		t.Errorf("403 = %q", e.Message)
	}
	s.do(request{method: "GET", path: "/api/v1/users", token: tk.Secret}).wantError(t, 403, "forbidden")
	role = "admin"
	s.asAdmin("PATCH", "/api/v1/users/dora", api.UserUpdate{Role: &role}).want(t, 200)
	if m := me(tk.Secret); m.Role != "admin" {
		t.Fatalf("promoted back: role %q", m.Role)
	}

	// Disabled: every token refused, the session too; enabled again, the
	// tokens work again.
	yes, no := true, false
	s.asAdmin("PATCH", "/api/v1/users/dora", api.UserUpdate{Disabled: &yes}).want(t, 200)
	for _, secret := range []string{tk.Secret, sub.Secret} {
		e := s.do(request{method: "GET", path: "/api/v1/me", token: secret}).wantError(t, 401, "unauthorized")
		if !strings.Contains(e.Message, "disabled") {
			t.Errorf("401 of a disabled user's token = %q", e.Message)
		}
	}
	s.do(request{method: "GET", path: "/api/v1/me", session: dora}).wantError(t, 401, "unauthorized")
	var list []api.Token
	s.asAdmin("GET", "/api/v1/tokens", nil).want(t, 200).decode(t, &list)
	for _, l := range list {
		if l.User == "dora" && l.Usable {
			t.Errorf("the list shows a disabled user's token as usable: %+v", l)
		}
	}
	s.asAdmin("PATCH", "/api/v1/users/dora", api.UserUpdate{Disabled: &no}).want(t, 200)
	me(tk.Secret)

	// Deleted: every token refused, even after a new user takes the name.
	s.asAdmin("DELETE", "/api/v1/users/dora", nil).want(t, 204)
	for _, secret := range []string{tk.Secret, sub.Secret} {
		s.do(request{method: "GET", path: "/api/v1/me", token: secret}).wantError(t, 401, "unauthorized")
		s.do(request{method: "POST", path: "/api/v1/pipelines/manual/runs", token: secret}).wantError(t, 401, "unauthorized")
	}
	s.createUser("dora", "another-password", "admin")
	s.do(request{method: "GET", path: "/api/v1/me", token: tk.Secret}).wantError(t, 401, "unauthorized")
	list = nil
	s.asAdmin("GET", "/api/v1/tokens", nil).want(t, 200).decode(t, &list)
	for _, l := range list {
		if l.User == "dora" {
			t.Errorf("a deleted user's token is still listed: %+v", l)
		}
	}

	// The server's own CLI token belongs to no user and keeps working.
	if m := me(s.admin); m.Role != "admin" || m.Via != "token" {
		t.Fatalf("the CLI token: %+v", m)
	}
}

// TestNoTokensWithoutUsers: with --auth none there is no user for a
// token to act for, so none is made.
func TestNoTokensWithoutUsers(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.start("--auth", "none")
	e := s.do(request{method: "POST", path: "/api/v1/tokens", json: api.TokenCreate{Role: "admin"}}).wantError(t, http.StatusUnprocessableEntity, "invalid")
	if !strings.Contains(e.Message, "--auth password") {
		t.Fatalf("error = %q", e.Message)
	}
}

// TestDNSRebinding: with --auth none, a page of another site that points
// its name at 127.0.0.1 must not upload or trigger anything, though its
// Origin and Sec-Fetch-Site say same-origin; loopback names still work.
func TestDNSRebinding(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.writePipeline("manual.yaml", manualPipeline)
	s.start("--auth", "none", "--rescan", "100ms")
	port := s.url[strings.LastIndex(s.url, ":")+1:]
	src := []byte("id: rebound\ntasks:\n  a:\n    run: id\n")
	body, ct := multipartBody(t, "rebound.yaml", src, nil)
	for _, host := range []string{"evil.example:" + port, "evil.example", "127.0.0.1.nip.example:" + port, "LOCALHOST.evil.example:" + port} {
		origin := map[string]string{"Host": host, "Origin": "http://" + host, "Sec-Fetch-Site": "same-origin"}
		for _, req := range []request{
			{method: "POST", path: "/api/v1/pipelines", raw: body, contentType: ct, header: origin},
			{method: "POST", path: "/api/v1/pipelines/manual/runs", json: api.TriggerRequest{}, header: origin},
			{method: "GET", path: "/api/v1/variables", header: origin},
			{method: "GET", path: "/", header: origin},
			{method: "GET", path: "/metrics", header: origin},
			{method: "GET", path: "/events/pipelines", header: origin},
		} {
			r := s.do(req)
			if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "refused") {
				t.Errorf("Host %s: %s %s = %d %s", host, req.method, req.path, r.status, r.body)
			}
		}
	}
	var runs api.RunList
	s.do(request{method: "GET", path: "/api/v1/runs"}).want(t, 200).decode(t, &runs)
	if len(runs.Runs) != 0 {
		t.Fatalf("a rebound request made runs: %+v", runs.Runs)
	}
	s.do(request{method: "GET", path: "/api/v1/pipelines/rebound"}).wantError(t, 404, "not_found")
	// Loopback names are served.
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port} {
		s.do(request{method: "POST", path: "/api/v1/pipelines/manual/runs", json: api.TriggerRequest{},
			header: map[string]string{"Host": host, "Origin": "http://" + host, "Sec-Fetch-Site": "same-origin"}}).want(t, 201)
	}
}

// TestStreamsEndWithTheirPrincipal: a followed log was allowed when it
// began; it ends once its user is disabled, or its token's user deleted,
// rather than streaming on to someone who may no longer read it.
func TestStreamsEndWithTheirPrincipal(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"ticker.yaml": `id: ticker
tasks:
  tick:
    run: 'for i in $(seq 1 3000); do echo "tick $i"; sleep 0.1; done'
`})
	s.createUser("eve", "eve-password", "viewer")
	s.createUser("ada", "ada-password", "admin")
	eve := s.login("eve", "eve-password")
	var tk api.NewToken
	s.do(request{method: "POST", path: "/api/v1/tokens", session: s.login("ada", "ada-password"), json: api.TokenCreate{Role: "viewer"}}).want(t, 201).decode(t, &tk)
	run := s.trigger("ticker", nil)
	s.waitTask(run.ID, "tick", "running")
	path := fmt.Sprintf("/api/v1/runs/%d/tasks/tick/logs?follow=true", run.ID)
	for _, c := range []struct {
		name   string
		header map[string]string
		revoke func()
	}{
		{"session of a disabled user", map[string]string{"Authorization": "", "Cookie": eve.cookie.String()}, func() {
			yes := true
			s.asAdmin("PATCH", "/api/v1/users/eve", api.UserUpdate{Disabled: &yes}).want(t, 200)
		}},
		{"token of a deleted user", map[string]string{"Authorization": "Bearer " + tk.Secret}, func() {
			s.asAdmin("DELETE", "/api/v1/users/ada", nil).want(t, 204)
		}},
	} {
		events := s.stream(path, c.header)
		if ev := next(t, events); !strings.Contains(ev.data, "tick") {
			t.Fatalf("%s: first event %+v", c.name, ev)
		}
		c.revoke()
		deadline := time.After(60 * time.Second)
		var last event
	read:
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					break read
				}
				last = ev
			case <-deadline:
				t.Fatalf("%s: the stream still runs a minute after its principal lost access", c.name)
			}
		}
		if last.name != "error" || !strings.Contains(last.data, "may no longer") {
			t.Errorf("%s: the stream ended without saying why: %+v", c.name, last)
		}
	}
	s.asAdmin("POST", fmt.Sprintf("/api/v1/runs/%d/cancel", run.ID), nil).want(t, 200)
}

// TestTokenForAServiceAccount: an admin (here with the local CLI's token)
// makes a token for a service account; it acts for that user, no more
// than its role, and ends with it.
func TestTokenForAServiceAccount(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"manual.yaml": manualPipeline})
	s.createUser("ci-bot", "ci-bot-password", "operator")
	e := s.asAdmin("POST", "/api/v1/tokens", api.TokenCreate{Role: "admin", User: "ci-bot"}).wantError(t, 422, "invalid")
	if !strings.Contains(e.Message, "the user is operator") {
		t.Errorf("422 = %q", e.Message)
	}
	s.asAdmin("POST", "/api/v1/tokens", api.TokenCreate{Role: "viewer", User: "nobody"}).wantError(t, 422, "invalid")
	var tk api.NewToken
	s.asAdmin("POST", "/api/v1/tokens", api.TokenCreate{Role: "operator", User: "ci-bot"}).want(t, 201).decode(t, &tk)
	if tk.User != "ci-bot" || tk.System || tk.Name != "operator token of ci-bot" {
		t.Fatalf("token = %+v", tk.Token)
	}
	var me api.Me
	s.do(request{method: "GET", path: "/api/v1/me", token: tk.Secret}).want(t, 200).decode(t, &me)
	if me.Name != "ci-bot" || me.Role != "operator" {
		t.Fatalf("me = %+v", me)
	}
	s.do(request{method: "POST", path: "/api/v1/pipelines/manual/runs", token: tk.Secret}).want(t, 201)
	yes := true
	s.asAdmin("PATCH", "/api/v1/users/ci-bot", api.UserUpdate{Disabled: &yes}).want(t, 200)
	s.do(request{method: "POST", path: "/api/v1/pipelines/manual/runs", token: tk.Secret}).wantError(t, 401, "unauthorized")
	s.asAdmin("POST", "/api/v1/tokens", api.TokenCreate{Role: "viewer", User: "ci-bot"}).wantError(t, 422, "invalid")
}
