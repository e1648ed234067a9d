package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
)

func ptr[T any](v T) *T { return &v }

func TestUsers(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	var u api.User
	s.asAdmin("POST", "/api/v1/users", api.UserCreate{Name: "alice", Password: "alice-password", Role: "operator"}).want(t, 201).decode(t, &u)
	if u.Name != "alice" || u.Role != "operator" || u.Disabled || u.CreatedAt.IsZero() {
		t.Fatalf("created = %+v", u)
	}
	s.asAdmin("POST", "/api/v1/users", api.UserCreate{Name: "alice", Password: "another-password", Role: "viewer"}).wantError(t, 409, "conflict")
	s.asAdmin("POST", "/api/v1/users", api.UserCreate{Name: "bob", Password: "short", Role: "viewer"}).wantError(t, 422, "invalid")
	s.asAdmin("POST", "/api/v1/users", api.UserCreate{Name: "bob", Password: "bob-password", Role: "root"}).wantError(t, 422, "invalid")
	s.asAdmin("POST", "/api/v1/users", api.UserCreate{Name: "bob smith", Password: "bob-password", Role: "viewer"}).wantError(t, 422, "invalid")
	var users []api.User
	s.asAdmin("GET", "/api/v1/users", nil).want(t, 200).decode(t, &users)
	if len(users) != 2 || users[0].Name != "admin" || users[0].Role != "admin" || users[1].Name != "alice" {
		t.Fatalf("users = %+v", users)
	}

	// Change the role; change the password, which ends sessions.
	alice := s.login("alice", "alice-password")
	s.asAdmin("PATCH", "/api/v1/users/alice", api.UserUpdate{Role: ptr("viewer")}).want(t, 200).decode(t, &u)
	if u.Role != "viewer" {
		t.Fatalf("updated = %+v", u)
	}
	var me api.Me
	s.do(request{method: "GET", path: "/api/v1/me", session: alice}).want(t, 200).decode(t, &me)
	if me.Role != "viewer" {
		t.Fatalf("the session's role did not follow the user's: %+v", me)
	}
	s.asAdmin("PATCH", "/api/v1/users/alice", api.UserUpdate{Password: ptr("new-alice-password")}).want(t, 200)
	s.do(request{method: "GET", path: "/api/v1/me", session: alice}).wantError(t, 401, "unauthorized")
	s.do(request{method: "POST", path: "/api/v1/login", json: api.LoginRequest{User: "alice", Password: "alice-password"}}).wantError(t, 401, "unauthorized")
	alice = s.login("alice", "new-alice-password")
	// Disable: no more logins.
	s.asAdmin("PATCH", "/api/v1/users/alice", api.UserUpdate{Disabled: ptr(true)}).want(t, 200).decode(t, &u)
	if !u.Disabled {
		t.Fatalf("disabled = %+v", u)
	}
	s.do(request{method: "GET", path: "/api/v1/me", session: alice}).wantError(t, 401, "unauthorized")
	s.do(request{method: "POST", path: "/api/v1/login", json: api.LoginRequest{User: "alice", Password: "new-alice-password"}}).wantError(t, 401, "unauthorized")
	s.asAdmin("PATCH", "/api/v1/users/alice", api.UserUpdate{Role: ptr("god")}).wantError(t, 422, "invalid")
	s.asAdmin("PATCH", "/api/v1/users/nobody", api.UserUpdate{Role: ptr("viewer")}).wantError(t, 404, "not_found")

	// The last admin stays an admin, and cannot be deleted; nobody deletes
	// themselves.
	s.asAdmin("PATCH", "/api/v1/users/admin", api.UserUpdate{Role: ptr("operator")}).wantError(t, 409, "conflict")
	s.asAdmin("PATCH", "/api/v1/users/admin", api.UserUpdate{Disabled: ptr(true)}).wantError(t, 409, "conflict")
	e := s.asAdmin("DELETE", "/api/v1/users/admin", nil).wantError(t, 409, "conflict")
	if !strings.Contains(e.Message, "last") {
		t.Errorf("message %q", e.Message)
	}
	s.createUser("carol", "carol-password", "admin")
	carol := s.login("carol", "carol-password")
	e = s.do(request{method: "DELETE", path: "/api/v1/users/carol", session: carol}).wantError(t, 409, "conflict")
	if !strings.Contains(e.Message, "yourself") {
		t.Errorf("message %q", e.Message)
	}
	// With two admins, one may delete the other.
	s.do(request{method: "DELETE", path: "/api/v1/users/admin", session: carol}).want(t, 204)
	s.asAdmin("DELETE", "/api/v1/users/alice", nil).want(t, 204)
	s.asAdmin("DELETE", "/api/v1/users/alice", nil).wantError(t, 404, "not_found")
	s.asAdmin("GET", "/api/v1/users", nil).want(t, 200).decode(t, &users)
	if len(users) != 1 || users[0].Name != "carol" {
		t.Fatalf("users = %+v", users)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"manual.yaml": manualPipeline})
	before := time.Now()
	r := s.asAdmin("POST", "/api/v1/tokens", api.TokenCreate{Name: "ci", Role: "operator", ExpiresIn: "720h"}).want(t, 201)
	var tk api.NewToken
	r.decode(t, &tk)
	if !strings.HasPrefix(tk.Secret, "slc_") || tk.Name != "ci" || tk.Role != "operator" || tk.ID == 0 || tk.CreatedBy == "" {
		t.Fatalf("token = %+v", tk)
	}
	if tk.ExpiresAt == nil || tk.ExpiresAt.Before(before.Add(719*time.Hour)) || tk.ExpiresAt.After(time.Now().Add(721*time.Hour)) {
		t.Fatalf("expires_at = %v", tk.ExpiresAt)
	}
	// The secret is shown once: the list has none.
	r = s.asAdmin("GET", "/api/v1/tokens", nil).want(t, 200)
	if strings.Contains(string(r.body), tk.Secret) || strings.Contains(string(r.body), `"token"`) {
		t.Fatalf("the token list shows a secret: %s", r.body)
	}
	var list []api.Token
	r.decode(t, &list)
	if len(list) != 2 || list[0].ID != tk.ID || list[0].ExpiresAt == nil || list[1].ExpiresAt != nil {
		t.Fatalf("tokens = %+v", list)
	}

	// It works as a bearer token, with its role, and needs no CSRF token.
	var me api.Me
	s.do(request{method: "GET", path: "/api/v1/me", token: tk.Secret}).want(t, 200).decode(t, &me)
	if me.Name != "ci" || me.Role != "operator" || me.Via != "token" {
		t.Fatalf("me = %+v", me)
	}
	s.do(request{method: "POST", path: "/api/v1/pipelines/manual/runs", token: tk.Secret}).want(t, 201)
	s.asAdmin("GET", "/api/v1/tokens", nil).want(t, 200).decode(t, &list)
	if list[0].LastUsedAt == nil {
		t.Errorf("last_used_at not recorded: %+v", list[0])
	}

	// Revoked: refused at once.
	s.asAdmin("DELETE", fmt.Sprint("/api/v1/tokens/", tk.ID), nil).want(t, 204)
	s.do(request{method: "GET", path: "/api/v1/me", token: tk.Secret}).wantError(t, 401, "unauthorized")
	s.asAdmin("DELETE", fmt.Sprint("/api/v1/tokens/", tk.ID), nil).wantError(t, 404, "not_found")
	s.asAdmin("DELETE", "/api/v1/tokens/x", nil).wantError(t, 400, "bad_request")

	// Defaults and bad values.
	s.asAdmin("POST", "/api/v1/tokens", api.TokenCreate{Role: "viewer"}).want(t, 201).decode(t, &tk)
	if tk.Name == "" || tk.ExpiresAt != nil {
		t.Fatalf("default token = %+v", tk)
	}
	s.asAdmin("POST", "/api/v1/tokens", api.TokenCreate{Role: "root"}).wantError(t, 422, "invalid")
	s.asAdmin("POST", "/api/v1/tokens", api.TokenCreate{Role: "viewer", ExpiresIn: "soon"}).wantError(t, 422, "invalid")
	s.asAdmin("POST", "/api/v1/tokens", api.TokenCreate{Role: "viewer", ExpiresIn: "-1h"}).wantError(t, 422, "invalid")
	s.asAdmin("POST", "/api/v1/tokens", nil).wantError(t, 400, "bad_request")
}
