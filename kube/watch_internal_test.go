package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestWatchRelistsWhenGone: the watch lists the worker's Pods, watches
// from the list's resourceVersion, and when the watch says its version
// is gone (410), lists again: a Pod missing from the new list is told to
// its waiter as deleted, one new in it as it is, and the next watch
// starts from the new list's version.
func TestWatchRelistsWhenGone(t *testing.T) {
	pod := func(name, rv, phase string) map[string]any {
		return map[string]any{"metadata": map[string]any{"name": name, "namespace": "ns", "resourceVersion": rv}, "status": map[string]any{"phase": phase}}
	}
	var mu sync.Mutex
	var requests []string
	lists, watches := 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/namespaces/ns/pods" || r.URL.Query().Get("labelSelector") != "dev.sluice/worker=w" {
			http.Error(w, "unexpected "+r.URL.String(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		requests = append(requests, r.URL.RawQuery)
		watch := r.URL.Query().Get("watch") == "true"
		if watch {
			watches++
		} else {
			lists++
		}
		n, m := lists, watches
		mu.Unlock()
		enc := json.NewEncoder(w)
		switch {
		case !watch && n == 1:
			_ = enc.Encode(map[string]any{"metadata": map[string]any{"resourceVersion": "10"}, "items": []any{pod("a", "5", "Pending"), pod("c", "6", "Running")}})
		case !watch:
			_ = enc.Encode(map[string]any{"metadata": map[string]any{"resourceVersion": "30"}, "items": []any{pod("b", "25", "Running")}})
		case m == 1:
			if r.URL.Query().Get("resourceVersion") != "10" || r.URL.Query().Get("allowWatchBookmarks") != "true" {
				http.Error(w, "first watch from the wrong version", http.StatusBadRequest)
				return
			}
			_ = enc.Encode(map[string]any{"type": "MODIFIED", "object": pod("a", "11", "Running")})
			_ = enc.Encode(map[string]any{"type": "BOOKMARK", "object": map[string]any{"metadata": map[string]any{"resourceVersion": "12"}}})
			_ = enc.Encode(map[string]any{"type": "ERROR", "object": map[string]any{"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version: 12 (20)"}})
		default:
			if r.URL.Query().Get("resourceVersion") != "30" {
				http.Error(w, "second watch from the wrong version", http.StatusBadRequest)
				return
			}
			_ = enc.Encode(map[string]any{"type": "MODIFIED", "object": pod("b", "31", "Succeeded")})
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := write(t, filepath.Join(dir, "config"), fmt.Sprintf(`current-context: x
contexts: [{name: x, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: {token: t}}]
`, srv.URL))
	c, err := Open(Config{Kubeconfig: cfg, Worker: "w"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, _ := c.subscribe("ns", "a")
	b, _ := c.subscribe("ns", "b")
	cc, _ := c.subscribe("ns", "c")
	if err := c.watchNamespace(context.Background(), "ns"); err != nil {
		t.Fatal(err)
	}
	// until waits for the newest event on ch to satisfy ok.
	until := func(what string, ch <-chan podEvent, ok func(podEvent) bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case ev := <-ch:
				if ok(ev) {
					return
				}
			case <-deadline:
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("%s: no such event; requests %q", what, requests)
			}
		}
	}
	until("a deleted after the relist", a, func(ev podEvent) bool { return ev.deleted && ev.pod.Status.Phase == "Running" })
	until("c deleted after the relist", cc, func(ev podEvent) bool { return ev.deleted })
	until("b succeeded on the second watch", b, func(ev podEvent) bool { return !ev.deleted && ev.pod.Status.Phase == "Succeeded" })
	mu.Lock()
	defer mu.Unlock()
	if lists != 2 || watches != 2 {
		t.Fatalf("%d lists and %d watches, want 2 and 2: %q", lists, watches, requests)
	}
}

// TestWatchEndedAtOnceBacksOff: a watch the server (or a proxy before
// it) ends at once, with no event, is a failure, as client-go's reflector
// takes it ("very short watch"): the worker waits and lists again rather
// than watching again at once, which was a loop of requests as fast as
// the server could answer them.
func TestWatchEndedAtOnceBacksOff(t *testing.T) {
	var mu sync.Mutex
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if len(requests) < 20 {
			requests = append(requests, "list")
			if r.URL.Query().Get("watch") == "true" {
				requests[len(requests)-1] = "watch"
			}
		}
		mu.Unlock()
		if r.URL.Query().Get("watch") != "true" {
			_ = json.NewEncoder(w).Encode(map[string]any{"metadata": map[string]any{"resourceVersion": "10"}, "items": []any{}})
		}
		// A watch: 200 and no event.
	}))
	defer srv.Close()
	cfg := write(t, filepath.Join(t.TempDir(), "config"), fmt.Sprintf(`current-context: x
contexts: [{name: x, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: {token: t}}]
`, srv.URL))
	c, err := Open(Config{Kubeconfig: cfg, Worker: "w"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.watchNamespace(context.Background(), "ns"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := append([]string(nil), requests...)
		mu.Unlock()
		if len(got) >= 3 {
			if got[0] != "list" || got[1] != "watch" || got[2] != "list" {
				t.Fatalf("requests %q: after a watch that ended at once, want a list (after a wait)", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("requests %q", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
