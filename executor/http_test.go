package executor_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/executor"
)

func TestHTTP(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(r.Method + " " + r.Header.Get("X-Key") + " " + string(body)))
		case "/big":
			w.Write([]byte(strings.Repeat("x", 100)))
		case "/slow":
			time.Sleep(2 * time.Second)
		case "/accepted":
			w.WriteHeader(202)
		default:
			w.WriteHeader(500)
			w.Write([]byte("boom"))
		}
	}))
	t.Cleanup(srv.Close)
	l := &lines{}
	res := executor.RunHTTP(context.Background(), &executor.HTTPRequest{Method: "POST", URL: srv.URL + "/ok", Headers: map[string]string{"X-Key": "k"}, Body: "payload", Log: l})
	if res.State != sluice.AttemptSuccess || res.Outputs["status"] != "200" || res.Outputs["body"] != "POST k payload" {
		t.Fatalf("ok: %+v", res)
	}
	if got := strings.Join(l.all(), "|"); !strings.Contains(got, "POST "+srv.URL+"/ok → 200") {
		t.Fatalf("log = %q", got)
	}
	res = executor.RunHTTP(context.Background(), &executor.HTTPRequest{URL: srv.URL + "/fail"})
	if res.State != sluice.AttemptFailed || !strings.Contains(res.Error, "answered 500, want a 2xx status: boom") {
		t.Fatalf("fail: %+v", res)
	}
	res = executor.RunHTTP(context.Background(), &executor.HTTPRequest{URL: srv.URL + "/accepted", Expect: []int{202}})
	if res.State != sluice.AttemptSuccess {
		t.Fatalf("expect 202: %+v", res)
	}
	res = executor.RunHTTP(context.Background(), &executor.HTTPRequest{URL: srv.URL + "/big", MaxBody: 10})
	if res.State != sluice.AttemptSuccess || res.Outputs["body"] != strings.Repeat("x", 10) {
		t.Fatalf("big: %+v", res)
	}
	res = executor.RunHTTP(context.Background(), &executor.HTTPRequest{URL: srv.URL + "/slow", Timeout: 100 * time.Millisecond})
	if res.State != sluice.AttemptTimedOut {
		t.Fatalf("slow: %+v", res)
	}
	if ok, why := executor.URLAnswers(context.Background(), srv.URL+"/ok", time.Second); !ok {
		t.Fatalf("URLAnswers: %s", why)
	}
	if ok, _ := executor.URLAnswers(context.Background(), srv.URL+"/fail", time.Second); ok {
		t.Fatal("a 500 answered")
	}
	dir := t.TempDir()
	if ok, _ := executor.FileExists(filepath.Join(dir, "*.csv")); ok {
		t.Fatal("no file yet")
	}
	os.WriteFile(filepath.Join(dir, "a.csv"), nil, 0o644)
	if ok, err := executor.FileExists(filepath.Join(dir, "*.csv")); !ok || err != nil {
		t.Fatalf("glob: %v %v", ok, err)
	}
}
