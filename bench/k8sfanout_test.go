package bench

import (
	"net/http"
	"net/url"
	"testing"
)

func TestRequestKind(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		method, url, want string
	}{
		{"POST", "/api/v1/namespaces/ns/pods", "create pods"},
		{"DELETE", "/api/v1/namespaces/ns/pods/sluice-p-t-1", "delete pods"},
		{"GET", "/api/v1/namespaces/ns/pods/sluice-p-t-1", "get pods"},
		{"GET", "/api/v1/namespaces/ns/pods/sluice-p-t-1/log?container=task&follow=true", "get pods/log"},
		{"GET", "/api/v1/namespaces/ns/pods?labelSelector=dev.sluice%2Fworker%3Dw&limit=500", "list pods"},
		{"GET", "/api/v1/namespaces/ns/pods?labelSelector=x&watch=true&resourceVersion=5", "watch pods"},
		{"GET", "/api/v1/pods?labelSelector=dev.sluice%2Fattempt", "list pods"},
		{"GET", "/api/v1/secrets?labelSelector=dev.sluice%2Fattempt", "list secrets"},
		{"POST", "/api/v1/namespaces/ns/secrets", "create secrets"},
		{"DELETE", "/api/v1/namespaces/ns/secrets/sluice-p-t-1", "delete secrets"},
		{"GET", "/api/v1/namespaces/ns", "get namespaces"},
		{"GET", "/version", "get /version"},
	} {
		u, err := url.Parse("https://127.0.0.1:6443" + c.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := requestKind(&http.Request{Method: c.method, URL: u}); got != c.want {
			t.Errorf("%s %s: got %q, want %q", c.method, c.url, got, c.want)
		}
	}
}

func TestPerTask(t *testing.T) {
	t.Parallel()
	got := perTask(map[string]int{
		"create pods": 10, "delete pods": 10, "get pods/log": 10, "create secrets": 4, "delete secrets": 4,
		"list pods": 2, "watch pods": 1, "list secrets": 1, "get /version": 1, "get pods": 1,
	}, 10)
	want := KubePerTask{PodCreateDelete: 2, Secrets: 0.9, Logs: 1, WatchList: 0.3, Other: 0.2, BeyondLogs: 3.4}
	near := func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
	if !near(got.PodCreateDelete, want.PodCreateDelete) || !near(got.Secrets, want.Secrets) || !near(got.Logs, want.Logs) ||
		!near(got.WatchList, want.WatchList) || !near(got.Other, want.Other) || !near(got.BeyondLogs, want.BeyondLogs) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
