package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/auth"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// logRecords returns the JSON log lines that carry a request id.
func logRecords(t *testing.T, text, requestID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(text, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["request_id"] == requestID {
			out = append(out, rec)
		}
	}
	return out
}

func TestRequestIDs(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"manual.yaml": manualPipeline})

	// A sane id of the client's is kept; every line about the request
	// carries it: the control's, and the access line.
	r := s.do(request{method: "POST", path: "/api/v1/pipelines/manual/runs", token: s.admin, header: map[string]string{api.RequestIDHeader: "trace-42.abc"}}).want(t, 201)
	if got := r.header.Get(api.RequestIDHeader); got != "trace-42.abc" {
		t.Fatalf("%s = %q", api.RequestIDHeader, got)
	}
	var recs []map[string]any
	waitFor(t, 10*time.Second, "the request's log lines", func() bool {
		recs = logRecords(t, s.logs(), "trace-42.abc")
		return len(recs) == 2
	})
	if recs[0]["msg"] != "run triggered" || recs[1]["msg"] != "api request" {
		t.Fatalf("log lines = %v", recs)
	}
	access := recs[1]
	if access["method"] != "POST" || access["path"] != "/api/v1/pipelines/manual/runs" || access["status"] != float64(201) ||
		access["level"] != "INFO" || !strings.HasPrefix(access["principal"].(string), "token local CLI") {
		t.Fatalf("access line = %v", access)
	}
	if _, ok := access["duration_ms"].(float64); !ok {
		t.Fatalf("access line without duration_ms: %v", access)
	}

	// Ids that are not sane tokens are replaced; each request gets its
	// own, errors too.
	seen := map[string]bool{}
	for _, sent := range []string{"", "has spaces", strings.Repeat("x", 200), "<script>", "-leading-dash"} {
		r := s.do(request{method: "GET", path: "/api/v1/runs/999999", token: s.admin, header: map[string]string{api.RequestIDHeader: sent}})
		r.wantError(t, 404, "not_found")
		id := r.header.Get(api.RequestIDHeader)
		if id == sent || seen[id] || len(id) < 16 {
			t.Fatalf("sent %q, got %q", sent, id)
		}
		seen[id] = true
	}
	// An anonymous request is logged too, with its 401.
	r = s.do(request{method: "GET", path: "/api/v1/pipelines"})
	r.wantError(t, 401, "unauthorized")
	id := r.header.Get(api.RequestIDHeader)
	waitFor(t, 10*time.Second, "the anonymous request's line", func() bool {
		recs = logRecords(t, s.logs(), id)
		return len(recs) == 1 && recs[0]["status"] == float64(401) && recs[0]["principal"] == "anonymous"
	})
}

// syncBuffer is a log destination for a handler serving in other
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// brokenStore fails or panics where a real store would not.
type brokenStore struct{ store.Store }

func (brokenStore) PipelineList(context.Context) ([]*store.Pipeline, error) {
	return nil, errors.New("disk on fire at /var/lib/sluice")
}

func (brokenStore) PipelineSearch(context.Context, *store.PipelineSearchParams) ([]*store.Pipeline, error) {
	return nil, errors.New("disk on fire at /var/lib/sluice")
}

func (brokenStore) WorkerList(context.Context) ([]*store.WorkerInfo, error) { panic("a bug") }

// TestInternalErrorsAreLogged serves the API in this process over a store
// that fails, and checks that a 500 says nothing of the cause and that the
// log holds it under the request's id.
func TestInternalErrorsAreLogged(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	broken := brokenStore{st}
	a := api.New(api.Config{
		Control: control.New(broken, nil, log),
		Auth:    auth.New(auth.Config{Store: broken, Mode: auth.ModeNone, Logger: log}),
		Logger:  log,
	})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)

	get := func(path, id string) (*http.Response, api.ErrorBody) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set(api.RequestIDHeader, id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body api.ErrorResponse
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp, body.Error
	}
	for _, tc := range []struct{ path, id, cause string }{
		{"/api/v1/pipelines", "req-500", "disk on fire"},
		{"/api/v1/workers", "req-panic", "panic: a bug"},
	} {
		resp, e := get(tc.path, tc.id)
		if resp.StatusCode != 500 || e.Code != "internal" || e.Message != "internal error" || resp.Header.Get(api.RequestIDHeader) != tc.id {
			t.Fatalf("%s: %d %+v %v", tc.path, resp.StatusCode, e, resp.Header)
		}
		recs := logRecords(t, logs.String(), tc.id)
		if len(recs) != 2 {
			t.Fatalf("%s: lines with the request id:\n%s", tc.path, logs.String())
		}
		if recs[0]["level"] != "ERROR" || recs[0]["msg"] != "api: internal error" || !strings.Contains(recs[0]["err"].(string), tc.cause) {
			t.Fatalf("%s: error line = %v", tc.path, recs[0])
		}
		if recs[1]["msg"] != "api request" || recs[1]["status"] != float64(500) || recs[1]["principal"] != "none anonymous" {
			t.Fatalf("%s: access line = %v", tc.path, recs[1])
		}
	}

	// Without a secret key, secrets are refused with what to do.
	req, _ := http.NewRequest("PUT", srv.URL+"/api/v1/secrets/API_TOKEN", strings.NewReader(`{"value": "x"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body api.ErrorResponse
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 409 || !strings.Contains(body.Error.Message, "SLUICE_SECRET_KEY") {
		t.Fatalf("a secret without a key: %d %+v", resp.StatusCode, body)
	}
}
