package api_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/api"
)

func TestPools(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	viewer, operator := s.createToken("viewer"), s.createToken("operator")

	var p api.Pool
	s.asAdmin("PUT", "/api/v1/pools/warehouse", api.PoolSet{Slots: ptr(2), Description: "the data warehouse"}).want(t, 200).decode(t, &p)
	if p.Name != "warehouse" || p.Slots != 2 || p.Description != "the data warehouse" || p.Used != 0 || p.Queued != 0 {
		t.Fatalf("created = %+v", p)
	}
	// Resize: the same PUT.
	s.asAdmin("PUT", "/api/v1/pools/warehouse", api.PoolSet{Slots: ptr(5)}).want(t, 200).decode(t, &p)
	if p.Slots != 5 || p.Description != "" {
		t.Fatalf("resized = %+v", p)
	}
	s.asAdmin("PUT", "/api/v1/pools/paused", api.PoolSet{Slots: ptr(0)}).want(t, 200)

	var list []api.Pool
	s.do(request{method: "GET", path: "/api/v1/pools", token: viewer}).want(t, 200).decode(t, &list)
	if len(list) != 2 || list[0].Name != "paused" || list[1].Name != "warehouse" || list[1].Slots != 5 {
		t.Fatalf("pools = %+v", list)
	}

	// Only admins change pools.
	s.do(request{method: "PUT", path: "/api/v1/pools/warehouse", token: operator, json: api.PoolSet{Slots: ptr(1)}}).wantError(t, 403, "forbidden")
	s.do(request{method: "DELETE", path: "/api/v1/pools/warehouse", token: viewer}).wantError(t, 403, "forbidden")

	// Bad requests and values.
	s.asAdmin("PUT", "/api/v1/pools/warehouse", api.PoolSet{Slots: ptr(-1)}).wantError(t, 422, "invalid")
	e := s.asAdmin("PUT", "/api/v1/pools/warehouse", api.PoolSet{}).wantError(t, 422, "invalid")
	if !strings.Contains(e.Message, "slots") {
		t.Errorf("message %q", e.Message)
	}
	s.asAdmin("PUT", "/api/v1/pools/bad%20name", api.PoolSet{Slots: ptr(1)}).wantError(t, 422, "invalid")
	s.asAdmin("PUT", "/api/v1/pools/warehouse", nil).wantError(t, 400, "bad_request")
	s.do(request{method: "PUT", path: "/api/v1/pools/warehouse", raw: []byte(`{"slots": 1, "size": 2}`), contentType: "application/json", token: s.admin}).wantError(t, 400, "bad_request")

	s.asAdmin("DELETE", "/api/v1/pools/warehouse", nil).want(t, 204)
	s.asAdmin("DELETE", "/api/v1/pools/warehouse", nil).wantError(t, 404, "not_found")
	s.asAdmin("GET", "/api/v1/pools", nil).want(t, 200).decode(t, &list)
	if len(list) != 1 || list[0].Name != "paused" {
		t.Fatalf("pools after delete = %+v", list)
	}
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestSecrets sets a secret, runs a task that uses it, and checks that the
// value is masked in the task's log. No response of any test may contain
// a secret's value (checkResponse and the event stream check each one),
// and neither may the server's log.
func TestSecrets(t *testing.T) {
	t.Parallel()
	// The pipeline names a prefix of the value, never the value, since
	// its source is served by the API too.
	s := startServer(t, map[string]string{"uses.yaml": `id: uses
tasks:
  call:
    secrets: [API_TOKEN]
    run: |
      echo "calling with token $API_TOKEN"
      case "$API_TOKEN" in s3cr3t-*) exit 0;; *) exit 1;; esac
`})
	value := "s3cr3t-" + randomHex(t)
	operator := s.createToken("operator")

	// Only admins set secrets; operators list their names, viewers do not.
	s.do(request{method: "PUT", path: "/api/v1/secrets/API_TOKEN", token: operator, json: api.SecretSet{Value: value}}).wantError(t, 403, "forbidden")
	s.do(request{method: "GET", path: "/api/v1/secrets", token: operator}).want(t, 200)
	s.do(request{method: "GET", path: "/api/v1/secrets", token: s.createToken("viewer")}).wantError(t, 403, "forbidden")

	// A task that needs a secret that is not set fails, saying so.
	run := s.trigger("uses", nil)
	s.waitRun(run.ID, "failed")
	var td api.TaskDetail
	s.asAdmin("GET", fmt.Sprintf("/api/v1/runs/%d/tasks/call", run.ID), nil).want(t, 200).decode(t, &td)
	if len(td.Attempts) != 1 || !strings.Contains(td.Attempts[0].Error, "sluice secrets set API_TOKEN") {
		t.Fatalf("attempt without the secret = %+v", td.Attempts)
	}

	before := s.asAdmin("GET", "/api/v1/secrets", nil).want(t, 200)
	s.setSecret("API_TOKEN", value)
	var list []api.Secret
	r := s.asAdmin("GET", "/api/v1/secrets", nil).want(t, 200)
	r.decode(t, &list)
	if string(before.body) != "[]\n" || len(list) != 1 || list[0].Name != "API_TOKEN" || list[0].CreatedAt.IsZero() || list[0].UpdatedAt.IsZero() {
		t.Fatalf("secrets = %s", r.body)
	}
	if strings.Contains(string(r.body), `"value"`) {
		t.Fatalf("the list has a value field: %s", r.body)
	}

	// The task gets it, and its log shows it masked.
	run = s.trigger("uses", nil)
	d := s.waitRun(run.ID, "success")
	logs := s.asAdmin("GET", fmt.Sprintf("/api/v1/runs/%d/tasks/call/logs", run.ID), nil).want(t, 200)
	if !strings.Contains(string(logs.body), "calling with token ***") {
		t.Fatalf("log:\n%s", logs.body)
	}
	events := s.stream(fmt.Sprintf("/api/v1/runs/%d/tasks/call/logs?follow=true", run.ID), nil)
	if l := logLine(t, next(t, events)); l.Line != "calling with token ***" {
		t.Fatalf("followed line = %+v", l)
	}
	// Everything else about the run: the checks of do() find no value.
	s.asAdmin("GET", fmt.Sprintf("/api/v1/runs/%d/tasks/call", run.ID), nil).want(t, 200).decode(t, &td)
	s.asAdmin("GET", fmt.Sprintf("/api/v1/runs/%d", run.ID), nil).want(t, 200)
	s.asAdmin("GET", "/api/v1/pipelines/uses", nil).want(t, 200)
	if d.Tasks[0].State != "success" {
		t.Fatalf("run = %+v", d)
	}

	// Setting it again replaces it; bad names and values are refused.
	s.setSecret("API_TOKEN", value+"-2")
	s.asAdmin("PUT", "/api/v1/secrets/API_TOKEN", api.SecretSet{}).wantError(t, 422, "invalid")
	s.asAdmin("PUT", "/api/v1/secrets/1BAD", api.SecretSet{Value: "x-" + randomHex(t)}).wantError(t, 422, "invalid")
	s.asAdmin("PUT", "/api/v1/secrets/SLUICE_TOKEN", api.SecretSet{Value: "x-" + randomHex(t)}).wantError(t, 422, "invalid")
	s.asAdmin("PUT", "/api/v1/secrets/BIG", api.SecretSet{Value: strings.Repeat("x", 65<<10)}).wantError(t, 413, "too_large")
	s.asAdmin("PUT", "/api/v1/secrets/API_TOKEN", nil).wantError(t, 400, "bad_request")
	s.do(request{method: "PUT", path: "/api/v1/secrets/API_TOKEN", raw: []byte(`{"secret": "x"}`), contentType: "application/json", token: s.admin}).wantError(t, 400, "bad_request")

	s.asAdmin("DELETE", "/api/v1/secrets/API_TOKEN", nil).want(t, 204)
	s.asAdmin("DELETE", "/api/v1/secrets/API_TOKEN", nil).wantError(t, 404, "not_found")
	s.asAdmin("GET", "/api/v1/secrets", nil).want(t, 200).decode(t, &list)
	if len(list) != 0 {
		t.Fatalf("secrets after delete = %+v", list)
	}
	if secretValues.leaked(s.logs()) {
		t.Fatalf("the server's log holds a secret's value:\n%s", s.logs())
	}
}

func TestVariables(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"vars.yaml": `id: vars
tasks:
  show:
    env:
      BUCKET: "${{ vars.bucket }}"
    run: echo "bucket is $BUCKET"
`})
	viewer, operator := s.createToken("viewer"), s.createToken("operator")

	// Operators set and read variables; viewers do neither.
	var v api.Variable
	s.do(request{method: "PUT", path: "/api/v1/variables/bucket", token: operator, json: api.VariableSet{Value: ptr("s3://data")}}).want(t, 200).decode(t, &v)
	if v.Name != "bucket" || v.Value != "s3://data" || v.UpdatedAt.IsZero() {
		t.Fatalf("set = %+v", v)
	}
	s.do(request{method: "PUT", path: "/api/v1/variables/bucket", token: viewer, json: api.VariableSet{Value: ptr("s3://evil")}}).wantError(t, 403, "forbidden")
	s.do(request{method: "PUT", path: "/api/v1/variables/empty", token: operator, json: api.VariableSet{Value: ptr("")}}).want(t, 200)
	s.do(request{method: "GET", path: "/api/v1/variables", token: viewer}).wantError(t, 403, "forbidden")
	s.do(request{method: "GET", path: "/api/v1/variables/bucket", token: viewer}).wantError(t, 403, "forbidden")
	var list []api.Variable
	s.do(request{method: "GET", path: "/api/v1/variables", token: operator}).want(t, 200).decode(t, &list)
	if len(list) != 2 || list[0].Name != "bucket" || list[0].Value != "s3://data" || list[1].Name != "empty" || list[1].Value != "" {
		t.Fatalf("variables = %+v", list)
	}

	s.do(request{method: "GET", path: "/api/v1/variables/bucket", token: operator}).want(t, 200).decode(t, &v)
	if v.Name != "bucket" || v.Value != "s3://data" {
		t.Fatalf("get = %+v", v)
	}
	s.asAdmin("GET", "/api/v1/variables/nope", nil).wantError(t, 404, "not_found")

	// A task reads it in an expression.
	run := s.trigger("vars", nil)
	s.waitRun(run.ID, "success")
	logs := s.asAdmin("GET", fmt.Sprintf("/api/v1/runs/%d/tasks/show/logs", run.ID), nil).want(t, 200)
	if !strings.Contains(string(logs.body), "bucket is s3://data") {
		t.Fatalf("log:\n%s", logs.body)
	}

	s.asAdmin("PUT", "/api/v1/variables/bucket", api.VariableSet{}).wantError(t, 422, "invalid")
	s.asAdmin("PUT", "/api/v1/variables/bad-name", api.VariableSet{Value: ptr("x")}).wantError(t, 422, "invalid")
	s.asAdmin("PUT", "/api/v1/variables/bucket", nil).wantError(t, 400, "bad_request")
	s.do(request{method: "DELETE", path: "/api/v1/variables/bucket", token: viewer}).wantError(t, 403, "forbidden")
	s.do(request{method: "DELETE", path: "/api/v1/variables/bucket", token: operator}).want(t, 204)
	s.asAdmin("DELETE", "/api/v1/variables/bucket", nil).wantError(t, 404, "not_found")
}
