package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/pipeline"
	"github.com/sluice-dev/sluice/store"
)

// The OpenAPI document is generated from the route table and the wire
// types, so it cannot drift from what the server does: the paths and
// operations from the table, the schemas by reflection over the types
// (a field without omitempty is required, a pointer may be null; `doc`
// and `enum` struct tags add descriptions and allowed values).

func (a *API) openAPI(w http.ResponseWriter, r *http.Request) error {
	a.openapiOnce.Do(func() { a.openapi = OpenAPI() })
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(a.openapi)
	return err
}

// HealthPaths are the endpoints the server serves beside the API, which
// the OpenAPI document describes too.
var HealthPaths = []string{"/healthz", "/readyz"}

// HookPaths are the webhook paths the server serves beside the API (see
// Hooks), which the OpenAPI document describes too. Each takes POST.
var HookPaths = []string{"/hooks/{pipeline}", "/hooks/{pipeline}/{name}"}

// hookOperation documents the POST of a webhook path: no session and no
// token, the signature of the body instead.
func hookOperation(path string, errRef, runRef map[string]any) map[string]any {
	params := []any{map[string]any{"name": "pipeline", "in": "path", "required": true, "schema": map[string]any{"type": "string"}, "description": "the pipeline whose triggers: list the webhook"}}
	id, summary := "deliverWebhook", "Deliver an event to a pipeline's webhook trigger, which starts a run"
	if strings.Contains(path, "{name}") {
		params = append(params, map[string]any{"name": "name", "in": "path", "required": true, "schema": map[string]any{"type": "string"}, "description": "the webhook's name:, for a pipeline with several webhooks"})
		id, summary = "deliverNamedWebhook", "Deliver an event to one of a pipeline's named webhook triggers, which starts a run"
	}
	for _, h := range []struct{ name, doc string }{
		{control.SignatureHeader, "sha256= and the lowercase hex HMAC-SHA256 of the raw body, keyed with the webhook's secret (GitHub's format)"},
		{"Idempotency-Key", "the delivery's dedup key: a delivery with a key seen before answers 200 with the first run instead of making a second one (X-GitHub-Delivery is used when absent, unless the webhook names a key: of the body)"},
	} {
		params = append(params, map[string]any{"name": h.name, "in": "header", "required": h.name == control.SignatureHeader, "schema": map[string]any{"type": "string"}, "description": h.doc})
	}
	errResp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": errRef}}}
	}
	runResp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": runRef}}}
	}
	return map[string]any{
		"operationId": id, "summary": summary, "tags": []string{"webhooks"},
		"description": "Served outside /api/v1: a delivery needs no session, token or CSRF token; the signature of its body proves it. " +
			"The body (JSON, or a form whose payload field holds the JSON, GitHub's other content type; at most 1 MiB) maps to the run's params through the webhook's params: expressions (${{ body.ref }}), checked like a trigger form (422). " +
			"A delivery whose key was seen before answers 200 with the first delivery's run.",
		"parameters": params,
		"requestBody": map[string]any{"required": false, "content": map[string]any{
			"application/json": map[string]any{"schema": map[string]any{}},
			control.FormContentType: map[string]any{"schema": map[string]any{
				"type": "object", "required": []string{"payload"},
				"properties": map[string]any{"payload": map[string]any{"type": "string", "description": "the delivery's JSON"}},
			}},
		}},
		"security": []any{},
		"responses": map[string]any{
			"201":     runResp("a new delivery: the run it started"),
			"200":     runResp("a repeated delivery: the run of the first one"),
			"400":     errResp("bad_request: the body is not JSON (or, for a form, has no JSON payload field)"),
			"401":     errResp("unauthorized: the signature is missing, malformed or wrong"),
			"404":     errResp("not_found: no such pipeline, or it has no such webhook"),
			"409":     errResp("conflict: the pipeline is paused, or the webhook's secret does not exist (the server's log names it)"),
			"413":     errResp("too_large: the body is over 1 MiB"),
			"422":     errResp("invalid: the params from the body are wrong, or the delivery's key is empty or too long"),
			"default": map[string]any{"$ref": "#/components/responses/Error"},
		},
	}
}

var apiDescription = `The REST API of sluice, a workflow orchestrator: pipelines of tasks on a schedule, their runs and backfills, task logs, pools, secrets, variables, workers, users and API tokens.

Authenticate with an API token ("Authorization: Bearer slc_…", made by an admin with POST /api/v1/tokens or 'sluice tokens create'), or with a browser session from POST /api/v1/login. Every POST, PATCH and DELETE of a session must send the session's CSRF token (from the login response or GET /api/v1/me) in the X-CSRF-Token header and come from the same origin; requests with a bearer token need neither.

Roles (each route names its role as x-sluice-role): ` + auth.RolesText() + `.

Every response carries an X-Request-Id header: the request's own when it sent a sane one, else a new one. The server's log lines about the request carry it as request_id.

Every error has the same shape: {"error": {"code", "message", "details"}}. The message is written for people; details carries structured extras such as the positioned errors of a pipeline file.`

var pathParam = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// OpenAPI returns the OpenAPI 3.1 document of the API as indented JSON.
func OpenAPI() []byte {
	g := &schemaGen{schemas: map[string]any{}, names: map[reflect.Type]string{}}
	errRef := g.ref(reflect.TypeFor[ErrorResponse]())
	errorResponse := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": errRef}}}
	}
	responses := map[string]any{
		"BadRequest":      errorResponse("bad_request: the request is malformed (bad JSON, a bad file name, a bad query value)"),
		"Unauthorized":    errorResponse("unauthorized: no valid session or API token"),
		"Forbidden":       errorResponse("forbidden: the role is too low, the CSRF token is missing or wrong, or the request is cross-origin"),
		"NotFound":        errorResponse("not_found: the pipeline, version, run, task, backfill, pool, secret, variable, user or token does not exist"),
		"Conflict":        errorResponse("conflict: the request conflicts with the current state"),
		"TooLarge":        errorResponse("too_large: the request body is over the limit"),
		"Invalid":         errorResponse("invalid: the input is well-formed but wrong; details says where"),
		"TooManyRequests": errorResponse("too_many_requests: too many failed logins; wait and try again"),
		"Error":           errorResponse("any error"),
	}
	statusRef := map[int]string{400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict", 413: "TooLarge", 422: "Invalid", 429: "TooManyRequests"}

	paths := map[string]map[string]any{}
	for _, rt := range table() {
		op := map[string]any{
			"operationId": operationID(rt),
			"summary":     rt.Summary,
			"tags":        []string{rt.Tag},
		}
		if rt.Doc != "" {
			op["description"] = rt.Doc
		}
		if rt.Action != "" {
			op["x-sluice-role"] = string(rt.Role())
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
			typ := pathParamTypes[m[1]]
			if typ == "" {
				typ = "string"
			}
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": typ}})
		}
		for _, q := range rt.Query {
			s := map[string]any{"type": q.Type}
			if len(q.Enum) > 0 {
				s["enum"] = q.Enum
			}
			if q.Repeated {
				s = map[string]any{"type": "array", "items": s}
			}
			p := map[string]any{"name": q.Name, "in": "query", "required": false, "schema": s, "description": q.Doc}
			if q.Repeated {
				p["style"], p["explode"] = "form", true
			}
			params = append(params, p)
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		switch {
		case rt.Kind == KindUpload:
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"multipart/form-data": map[string]any{"schema": map[string]any{
					"type": "object", "required": []string{"file"},
					"properties": map[string]any{
						"file":         map[string]any{"type": "string", "contentMediaType": "application/yaml", "description": "the pipeline file; its name must be plain (no path) and end in .yaml or .yml"},
						auth.CSRFField: map[string]any{"type": "string", "description": "the session's CSRF token, if not sent as the X-CSRF-Token header"},
					},
				}},
				"application/yaml": map[string]any{"schema": map[string]any{"type": "string"}},
				"text/yaml":        map[string]any{"schema": map[string]any{"type": "string"}},
				"text/plain":       map[string]any{"schema": map[string]any{"type": "string"}},
			}}
		case rt.Body != nil:
			t := reflect.TypeOf(rt.Body)
			op["requestBody"] = map[string]any{"required": len(requiredFields(t)) > 0, "content": map[string]any{"application/json": map[string]any{"schema": g.ref(t)}}}
		}

		ok := map[string]any{"description": http.StatusText(rt.Status)}
		switch rt.Kind {
		case KindLogs:
			ok["description"] = "the log as text, or as server-sent events when following"
			ok["content"] = map[string]any{
				"text/plain": map[string]any{"schema": map[string]any{"type": "string"}, "example": "2026-11-26T12:00:00.123456Z stdout hello\n"},
				"text/event-stream": map[string]any{
					"schema":  map[string]any{"type": "string"},
					"example": "id: 1\ndata: {\"time\":\"2026-11-26T12:00:00.123456Z\",\"stream\":\"stdout\",\"line\":\"hello\"}\n\nevent: end\ndata: {\"attempt\":1,\"state\":\"success\"}\n\n",
				},
			}
			ok["headers"] = map[string]any{
				"X-Sluice-Attempt":       map[string]any{"description": "the attempt shown (text/plain)", "schema": map[string]any{"type": "integer"}},
				"X-Sluice-Attempt-State": map[string]any{"description": "its state when the log was read (text/plain)", "schema": map[string]any{"type": "string"}},
			}
			op["x-sluice-events"] = map[string]any{"message": g.ref(reflect.TypeFor[LogLine]()), "end": g.ref(reflect.TypeFor[LogEnd]()), "error": errRef}
		case KindDocument:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
		default:
			if rt.Result != nil {
				ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.ref(reflect.TypeOf(rt.Result))}}
			}
		}
		resp := map[string]any{fmt.Sprint(rt.Status): ok, "default": map[string]any{"$ref": "#/components/responses/Error"}}
		for status, result := range rt.Also {
			resp[fmt.Sprint(status)] = map[string]any{"description": http.StatusText(status),
				"content": map[string]any{"application/json": map[string]any{"schema": g.ref(reflect.TypeOf(result))}}}
		}
		for _, code := range errorStatuses(rt) {
			resp[fmt.Sprint(code)] = map[string]any{"$ref": "#/components/responses/" + statusRef[code]}
		}
		op["responses"] = resp
		op["security"] = security(rt)
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		paths[rt.Path][strings.ToLower(rt.Method)] = op
	}
	health := map[string]any{"type": "object", "required": []string{"status"}, "properties": map[string]any{
		"status":   map[string]any{"type": "string", "enum": []string{"ok", "ready", "unavailable"}},
		"database": map[string]any{"type": "string", "description": "why the database is unavailable"},
		"writes":   map[string]any{"type": "string", "description": "on a scheduler or worker: the database writes that fail, with their error, since when and how many calls"},
		"hint":     map[string]any{"type": "string", "description": "what to do about it"},
	}}
	healthOp := func(id, summary string, codes ...int) map[string]any {
		resp := map[string]any{}
		for _, c := range codes {
			resp[fmt.Sprint(c)] = map[string]any{"description": http.StatusText(c), "content": map[string]any{"application/json": map[string]any{"schema": health}}}
		}
		return map[string]any{"operationId": id, "summary": summary, "tags": []string{"health"}, "security": []any{}, "responses": resp}
	}
	for _, hp := range HookPaths {
		paths[hp] = map[string]any{"post": hookOperation(hp, errRef, g.ref(reflect.TypeFor[Run]()))}
	}
	paths["/healthz"] = map[string]any{"get": healthOp("healthz", "Liveness: the process answers", 200)}
	paths["/readyz"] = map[string]any{"get": healthOp("readyz", "Readiness: the database answers, and on a scheduler or worker takes its writes", 200, 503)}

	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title": "sluice API", "version": "1", "description": apiDescription,
			"license": map[string]any{"name": "see the sluice repository"},
		},
		"servers": []any{map[string]any{"url": "/", "description": "the sluice server that serves this document"}},
		"tags": []any{
			map[string]any{"name": "auth", "description": "sessions and who you are"},
			map[string]any{"name": "pipelines", "description": "pipelines, their versions, and triggering runs"},
			map[string]any{"name": "runs", "description": "runs, their tasks, attempts and logs"},
			map[string]any{"name": "assets", "description": "asset events, which start the pipelines scheduled on assets"},
			map[string]any{"name": "backfills", "description": "runs for a range of past logical dates, and their progress"},
			map[string]any{"name": "pools", "description": "named numbers of slots that bound how many tasks run at once"},
			map[string]any{"name": "secrets", "description": "encrypted values tasks get as environment variables (admin only); values are never returned"},
			map[string]any{"name": "variables", "description": "named values expressions read as vars.<name>"},
			map[string]any{"name": "workers", "description": "the worker processes, their labels and problems"},
			map[string]any{"name": "admin", "description": "users and API tokens (admin only)"},
			map[string]any{"name": "meta", "description": "this document"},
			map[string]any{"name": "health", "description": "health checks for load balancers and orchestrators"},
			map[string]any{"name": "webhooks", "description": "deliveries from other servers to pipelines' webhook triggers, proven by a signature of the body"},
		},
		"paths": paths,
		"components": map[string]any{
			"schemas":   g.schemas,
			"responses": responses,
			"securitySchemes": map[string]any{
				"bearerToken": map[string]any{"type": "http", "scheme": "bearer", "description": "an API token, slc_…; needs no CSRF token"},
				"session":     map[string]any{"type": "apiKey", "in": "cookie", "name": auth.CookieName, "description": "the session cookie set by POST /api/v1/login"},
				"csrfToken":   map[string]any{"type": "apiKey", "in": "header", "name": auth.CSRFHeader, "description": "the session's CSRF token, required with the session cookie on POST, PATCH and DELETE; such requests must also come from the same origin"},
			},
		},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		panic(fmt.Sprintf("api: cannot encode the OpenAPI document: %v", err))
	}
	return b.Bytes()
}

// operationID is the name of a route's handler, such as listPipelines.
func operationID(rt Route) string {
	name := runtime.FuncForPC(reflect.ValueOf(rt.handle).Pointer()).Name()
	name = name[strings.LastIndex(name, ".")+1:]
	return strings.TrimSuffix(name, "-fm")
}

// errorStatuses lists the error statuses a route may answer besides the
// catch-all default.
func errorStatuses(rt Route) []int {
	var codes []int
	if rt.Action != "" {
		codes = append(codes, 401, 403)
	}
	unsafe := rt.Method != "GET"
	if unsafe && rt.Action == "" {
		codes = append(codes, 403) // cross-origin
	}
	if rt.Body != nil || rt.Kind == KindUpload || len(rt.Query) > 0 || strings.Contains(rt.Path, "{run}") || strings.Contains(rt.Path, "{token}") || strings.Contains(rt.Path, "{backfill}") {
		codes = append(codes, 400)
	}
	if strings.Contains(rt.Path, "{") {
		codes = append(codes, 404)
	}
	if unsafe && rt.Path != loginPath && rt.Path != "/api/v1/logout" && rt.Path != "/api/v1/tokens" && !strings.HasPrefix(rt.Path, "/api/v1/tokens/") {
		codes = append(codes, 409)
	}
	if rt.Body != nil || rt.Kind == KindUpload {
		codes = append(codes, 413, 422)
	}
	if strings.HasPrefix(rt.Path, "/api/v1/assets/{name}") && rt.Body == nil {
		codes = append(codes, 422) // not an asset name
	}
	if rt.Path == loginPath {
		codes = append(codes, 401, 429)
	}
	return codes
}

// security is a route's security requirement: anyone, or a token or a
// session (with its CSRF token on unsafe methods).
func security(rt Route) []any {
	none := map[string]any{}
	switch {
	case rt.Path == "/api/v1/logout":
		return []any{map[string]any{"session": []string{}, "csrfToken": []string{}}, none}
	case rt.Action == "":
		return []any{}
	case rt.Method == "GET":
		return []any{map[string]any{"bearerToken": []string{}}, map[string]any{"session": []string{}}}
	}
	return []any{map[string]any{"bearerToken": []string{}}, map[string]any{"session": []string{}, "csrfToken": []string{}}}
}

// schemaGen builds JSON Schemas of Go types into components/schemas.
type schemaGen struct {
	schemas map[string]any
	names   map[reflect.Type]string
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[pipeline.Duration]()
	rawType      = reflect.TypeFor[json.RawMessage]()
	roleType     = reflect.TypeFor[store.Role]()
	marshaler    = reflect.TypeFor[json.Marshaler]()
)

// ref returns the schema of t: a $ref for a named struct, registered on
// first use, or the schema itself.
func (g *schemaGen) ref(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == durationType:
		return map[string]any{"type": "string", "description": "a duration such as 30s, 1h30m or 2d"}
	case t == rawType:
		return map[string]any{"type": "object"}
	case t == roleType:
		return map[string]any{"type": "string", "enum": []string{"viewer", "operator", "admin"}}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(g.ref(t.Elem()))
	case reflect.Interface:
		return map[string]any{}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.ref(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.ref(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return map[string]any{"type": "integer"}
	case reflect.Int64, reflect.Uint64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Struct:
		if t.Implements(marshaler) {
			return map[string]any{}
		}
		if t.Name() == "" {
			return g.object(t)
		}
		name, ok := g.names[t]
		if !ok {
			name = t.Name()
			if _, taken := g.schemas[name]; taken {
				name = strings.ReplaceAll(t.String(), ".", "_")
			}
			g.names[t] = name
			g.schemas[name] = map[string]any{} // placeholder for recursive types
			g.schemas[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// object is the schema of a struct's JSON fields.
func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	for _, f := range jsonFields(t) {
		s := g.ref(f.typ)
		if len(f.enum) > 0 {
			if f.typ.Kind() == reflect.Pointer {
				s = nullable(map[string]any{"type": "string", "enum": f.enum})
			} else {
				s["enum"] = f.enum
			}
		}
		if f.doc != "" {
			s["description"] = f.doc
		}
		props[f.name] = s
	}
	obj := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if req := requiredFields(t); len(req) > 0 {
		obj["required"] = req
	}
	return obj
}

func nullable(s map[string]any) map[string]any {
	if _, ok := s["$ref"]; ok {
		return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
	}
	if typ, ok := s["type"].(string); ok {
		out := map[string]any{}
		for k, v := range s {
			out[k] = v
		}
		out["type"] = []string{typ, "null"}
		return out
	}
	return s
}

// jsonField is one field of a struct as encoding/json sees it.
type jsonField struct {
	name      string
	typ       reflect.Type
	omitempty bool
	doc       string
	enum      []string
	depth     int
}

// jsonFields lists the JSON fields of a struct in order, with embedded
// structs flattened and, as in encoding/json, a shallower field hiding a
// deeper one of the same name.
func jsonFields(t reflect.Type) []jsonField {
	var all []jsonField
	var walk func(t reflect.Type, depth int)
	walk = func(t reflect.Type, depth int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type, depth+1)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			jf := jsonField{name: name, typ: f.Type, omitempty: strings.Contains(","+opts+",", ",omitempty,"), doc: f.Tag.Get("doc"), depth: depth}
			if e := f.Tag.Get("enum"); e != "" {
				jf.enum = strings.Split(e, ",")
			}
			all = append(all, jf)
		}
	}
	walk(t, 0)
	best := map[string]int{}
	for i, f := range all {
		if j, ok := best[f.name]; !ok || f.depth < all[j].depth {
			best[f.name] = i
		}
	}
	var out []jsonField
	for i, f := range all {
		if best[f.name] == i {
			out = append(out, f)
		}
	}
	return out
}

// requiredFields are the JSON fields of a struct without omitempty.
func requiredFields(t reflect.Type) []string {
	if t.Kind() != reflect.Struct {
		return nil
	}
	var req []string
	for _, f := range jsonFields(t) {
		if !f.omitempty {
			req = append(req, f.name)
		}
	}
	return req
}
