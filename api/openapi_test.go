package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/store"
)

var paramName = regexp.MustCompile(`\{[^}]*\}`)

// operation is "METHOD /path/{}" with parameter names erased, so that two
// spellings of one route compare equal.
func operation(method, path string) string {
	return strings.ToUpper(method) + " " + paramName.ReplaceAllString(path, "{}")
}

// docOperations lists the operations of an OpenAPI document.
func docOperations(t *testing.T, doc map[string]any) []string {
	t.Helper()
	var ops []string
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal("the document has no paths")
	}
	for path, item := range paths {
		for method := range item.(map[string]any) {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				ops = append(ops, operation(method, path))
			}
		}
	}
	sort.Strings(ops)
	return ops
}

// tableOperations lists the routes of the table, plus the health checks
// the server serves beside the API.
func tableOperations() []string {
	var ops []string
	for _, rt := range api.Routes() {
		ops = append(ops, operation(rt.Method, rt.Path))
	}
	for _, p := range api.HealthPaths {
		ops = append(ops, operation("GET", p))
	}
	for _, p := range api.HookPaths {
		ops = append(ops, operation("POST", p))
	}
	sort.Strings(ops)
	return ops
}

// diffSets returns what is in a but not b, and in b but not a.
func diffSets(a, b []string) (onlyA, onlyB []string) {
	in := func(s []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range s {
			m[x] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	for _, x := range a {
		if !mb[x] {
			onlyA = append(onlyA, x)
		}
	}
	for _, x := range b {
		if !ma[x] {
			onlyB = append(onlyB, x)
		}
	}
	return onlyA, onlyB
}

// TestOpenAPIMatchesRoutes compares the document the real server serves
// with the route table, operation by operation, and checks that every
// operation it names reaches a handler of the server.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	// Anyone may read the document.
	r := s.do(request{method: "GET", path: "/api/v1/openapi.json"}).want(t, 200)
	var doc map[string]any
	r.decode(t, &doc)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi = %q, want 3.1.x", doc["openapi"])
	}
	inDoc, inTable := docOperations(t, doc), tableOperations()
	notInTable, notInDoc := diffSets(inDoc, inTable)
	if len(notInDoc) > 0 {
		t.Errorf("routes missing from the OpenAPI document: %v", notInDoc)
	}
	if len(notInTable) > 0 {
		t.Errorf("the OpenAPI document names routes that do not exist: %v", notInTable)
	}
	// Every operation of the document reaches a handler: nothing answers
	// "no such route" or 405.
	for _, op := range inDoc {
		method, path, _ := strings.Cut(op, " ")
		path = strings.ReplaceAll(path, "{}", "999999")
		resp := s.do(request{method: method, path: path, token: s.admin})
		if resp.status == http.StatusMethodNotAllowed || resp.status == http.StatusNotFound && strings.Contains(string(resp.body), "no such API route") {
			t.Errorf("%s: the server has no such route: %d %s", op, resp.status, resp.body)
		}
	}
}

// TestOpenAPIDocument checks the document is a well-formed OpenAPI 3.1
// document: its references resolve, its schemas compile, and it describes
// the security schemes, bodies and errors.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	raw := api.OpenAPI()
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if v, _ := doc["openapi"].(string); !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(v) {
		t.Fatalf("openapi = %q", doc["openapi"])
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == "" || info["version"] == "" {
		t.Fatalf("info = %v", info)
	}
	comps := doc["components"].(map[string]any)
	sec := comps["securitySchemes"].(map[string]any)
	if b := sec["bearerToken"].(map[string]any); b["type"] != "http" || b["scheme"] != "bearer" {
		t.Errorf("bearer scheme: %v", b)
	}
	if c := sec["session"].(map[string]any); c["in"] != "cookie" || c["name"] != "sluice_session" {
		t.Errorf("session scheme: %v", c)
	}
	if c := sec["csrfToken"].(map[string]any); c["in"] != "header" || c["name"] != "X-CSRF-Token" {
		t.Errorf("csrf scheme: %v", c)
	}
	for _, name := range []string{"ErrorResponse", "ErrorBody", "FileError"} {
		if _, ok := comps["schemas"].(map[string]any)[name]; !ok && name != "FileError" {
			t.Errorf("no %s schema", name)
		}
	}

	// Every $ref resolves.
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				refs = append(refs, ref)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	for _, ref := range refs {
		var at any = doc
		for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, ok := at.(map[string]any)
			if !ok {
				t.Fatalf("$ref %s does not resolve", ref)
			}
			if at, ok = m[strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")]; !ok {
				t.Fatalf("$ref %s does not resolve", ref)
			}
		}
	}

	// Every schema compiles as JSON Schema 2020-12.
	v, _ := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("https://sluice.test/doc.json", v); err != nil {
		t.Fatal(err)
	}
	for name := range comps["schemas"].(map[string]any) {
		if _, err := c.Compile("https://sluice.test/doc.json#/components/schemas/" + name); err != nil {
			t.Errorf("schema %s: %v", name, err)
		}
	}

	// Each operation: a summary, an id, responses with the error shape,
	// request bodies where the route takes one, and security matching the
	// role the route needs.
	byOp := map[string]api.Route{}
	for _, rt := range api.Routes() {
		byOp[operation(rt.Method, rt.Path)] = rt
	}
	ids := map[string]bool{}
	for path, item := range doc["paths"].(map[string]any) {
		for method, o := range item.(map[string]any) {
			op := o.(map[string]any)
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] {
				t.Errorf("%s %s: operationId %q missing or repeated", method, path, id)
			}
			ids[id] = true
			if op["summary"] == "" {
				t.Errorf("%s %s: no summary", method, path)
			}
			rt, ok := byOp[operation(method, path)]
			if !ok {
				continue // a health check
			}
			resps := op["responses"].(map[string]any)
			if _, ok := resps[fmt.Sprint(rt.Status)]; !ok {
				t.Errorf("%s %s: no %d response", method, path, rt.Status)
			}
			if d, _ := resps["default"].(map[string]any); d["$ref"] != "#/components/responses/Error" {
				t.Errorf("%s %s: the default response is not the error shape", method, path)
			}
			if (rt.Body != nil || rt.Kind == api.KindUpload) != (op["requestBody"] != nil) {
				t.Errorf("%s %s: requestBody does not match the route", method, path)
			}
			security, _ := op["security"].([]any)
			switch {
			case rt.Action == "" && path != "/api/v1/logout":
				if len(security) != 0 {
					t.Errorf("%s %s: a public route with security %v", method, path, security)
				}
			case rt.Action != "":
				if op["x-sluice-role"] != string(rt.Role()) || len(security) != 2 {
					t.Errorf("%s %s: role %v, security %v; want %s", method, path, op["x-sluice-role"], security, rt.Role())
				}
				_, csrf := security[1].(map[string]any)["csrfToken"]
				if csrf != (rt.Method != "GET") {
					t.Errorf("%s %s: CSRF token required = %v", method, path, csrf)
				}
			}
		}
	}
	for _, p := range api.HealthPaths {
		if _, ok := doc["paths"].(map[string]any)[p]; !ok {
			t.Errorf("the document lacks %s", p)
		}
	}
	// The webhook paths: no security, the signature header, and the
	// answers a sender must tell apart.
	for _, p := range api.HookPaths {
		op, _ := doc["paths"].(map[string]any)[p].(map[string]any)["post"].(map[string]any)
		if op == nil {
			t.Fatalf("the document lacks POST %s", p)
		}
		if sec, _ := op["security"].([]any); len(sec) != 0 {
			t.Errorf("POST %s: security %v, want none (the signature proves a delivery)", p, sec)
		}
		resps := op["responses"].(map[string]any)
		for _, code := range []string{"200", "201", "401", "409"} {
			if resps[code] == nil {
				t.Errorf("POST %s: no %s response", p, code)
			}
		}
		var sig bool
		for _, prm := range op["parameters"].([]any) {
			prm := prm.(map[string]any)
			sig = sig || prm["in"] == "header" && prm["name"] == "X-Hub-Signature-256" && prm["required"] == true
		}
		if !sig {
			t.Errorf("POST %s: the X-Hub-Signature-256 header is not documented as required", p)
		}
	}
}

// TestRouteRoles pins the role each kind of route needs.
func TestRouteRoles(t *testing.T) {
	t.Parallel()
	for _, rt := range api.Routes() {
		var want store.Role
		adminOnly := strings.HasPrefix(rt.Path, "/api/v1/users") || strings.HasPrefix(rt.Path, "/api/v1/tokens") || strings.HasPrefix(rt.Path, "/api/v1/secrets") ||
			strings.HasPrefix(rt.Path, "/api/v1/maintenance/")
		switch {
		case rt.Path == "/api/v1/login" || rt.Path == "/api/v1/logout" || rt.Path == "/api/v1/openapi.json":
			want = ""
		case rt.Method == "GET" && (strings.HasPrefix(rt.Path, "/api/v1/variables") || strings.HasPrefix(rt.Path, "/api/v1/secrets")):
			// Variables' values and secrets' names are for operators.
			want = store.RoleOperator
		case rt.Method == "GET" && !adminOnly:
			want = store.RoleViewer
		case rt.Method == "POST" && rt.Path == "/api/v1/pipelines", rt.Method == "DELETE" && strings.HasPrefix(rt.Path, "/api/v1/pipelines/"),
			strings.HasPrefix(rt.Path, "/api/v1/pools/"), adminOnly:
			want = store.RoleAdmin
		default:
			want = store.RoleOperator
		}
		if rt.Role() != want {
			t.Errorf("%s %s needs %q, want %q", rt.Method, rt.Path, rt.Role(), want)
		}
	}
}

// TestHealthBesideTheAPI checks the health endpoints the document names.
func TestHealthBesideTheAPI(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	for _, p := range api.HealthPaths {
		resp, err := httpClient.Get(s.url + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "status") {
			t.Fatalf("%s = %d %s", p, resp.StatusCode, body)
		}
	}
}
