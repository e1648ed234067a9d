package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
)

func writeGate(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// event is one server-sent event.
type event struct {
	name, id, data string
}

// stream opens a server-sent event stream and sends its events on a
// channel, which is closed when the stream ends.
func (s *testServer) stream(path string, header map[string]string) <-chan event {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s.t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", s.url+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.admin)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		resp.Body.Close()
		s.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ch := make(chan event, 100)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.data != "" {
					ch <- ev
				}
				ev = event{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
				if secretValues.leaked(ev.data) {
					s.t.Errorf("GET %s sent a secret's value: %s", path, ev.data)
				}
			}
		}
	}()
	return ch
}

// next returns the next event, failing the test if none comes in time.
func next(t *testing.T, ch <-chan event) event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the event stream ended")
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no event within 30s")
	}
	return event{}
}

func logLine(t *testing.T, ev event) api.LogLine {
	t.Helper()
	if ev.name != "" {
		t.Fatalf("event %+v, want a log line", ev)
	}
	var l api.LogLine
	if err := json.Unmarshal([]byte(ev.data), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLogs(t *testing.T) {
	t.Parallel()
	gate := filepath.Join(t.TempDir(), "gate")
	s := startServer(t, map[string]string{
		"talk.yaml": fmt.Sprintf(`id: talk
tasks:
  talk:
    run: |
      echo "line one <b>&"
      echo "to stderr" >&2
      while [ ! -e %q ]; do sleep 0.05; done
      echo "line two"
`, gate),
		"fails.yaml": "id: fails\ntasks:\n  a:\n    run: exit 1\n  b:\n    depends_on: [a]\n    run: echo never\n",
	})
	run := s.trigger("talk", nil)
	path := fmt.Sprintf("/api/v1/runs/%d/tasks/talk/logs", run.ID)

	// Follow from before the task starts: the stream waits for it, then
	// sends each line as it is written.
	events := s.stream(path+"?follow=true", nil)
	// stdout and stderr are separate pipes: their lines may come in
	// either order.
	first := map[string]api.LogLine{}
	for range 2 {
		l := logLine(t, next(t, events))
		first[l.Stream] = l
	}
	if l := first["stdout"]; l.Line != "line one <b>&" || l.Time.IsZero() {
		t.Fatalf("first lines = %+v", first)
	}
	if l := first["stderr"]; l.Line != "to stderr" {
		t.Fatalf("first lines = %+v", first)
	}
	// The task is still running: the lines came live, not at the end.
	var td api.TaskDetail
	s.asAdmin("GET", fmt.Sprintf("/api/v1/runs/%d/tasks/talk", run.ID), nil).want(t, 200).decode(t, &td)
	if td.State != "running" {
		t.Fatalf("task = %s, want running while its log streams", td.State)
	}
	// Meanwhile the whole log so far is there too.
	r := s.asAdmin("GET", path, nil).want(t, 200)
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") || r.header.Get("X-Sluice-Attempt") != "1" || r.header.Get("X-Sluice-Attempt-State") != "running" {
		t.Fatalf("headers %v", r.header)
	}
	writeGate(t, gate)
	l3 := logLine(t, next(t, events))
	if l3.Line != "line two" {
		t.Fatalf("third line = %+v", l3)
	}
	end := next(t, events)
	if end.name != "end" || end.data != `{"attempt":1,"state":"success"}` {
		t.Fatalf("end = %+v", end)
	}
	if _, open := <-events; open {
		t.Fatal("the stream goes on after its end event")
	}

	// The whole log as text.
	r = s.asAdmin("GET", path, nil).want(t, 200)
	lineRE := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z (stdout|stderr|sluice) .*$`)
	lines := strings.Split(strings.TrimSuffix(string(r.body), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("log = %q", r.body)
	}
	for _, l := range lines {
		if !lineRE.MatchString(l) {
			t.Errorf("log line %q is not <time> <stream> <text>", l)
		}
	}
	if !strings.HasSuffix(lines[2], " stdout line two") || !strings.Contains(string(r.body), " stdout line one <b>&\n") || !strings.Contains(string(r.body), " stderr to stderr\n") {
		t.Errorf("log = %q", r.body)
	}
	if r.header.Get("X-Sluice-Attempt-State") != "success" {
		t.Errorf("headers %v", r.header)
	}
	s.asAdmin("GET", path+"?attempt=1", nil).want(t, 200)
	s.asAdmin("GET", path+"?attempt=2", nil).wantError(t, 404, "not_found")
	s.asAdmin("GET", path+"?attempt=x", nil).wantError(t, 400, "bad_request")
	s.asAdmin("GET", path+"?follow=maybe", nil).wantError(t, 400, "bad_request")
	s.asAdmin("GET", fmt.Sprintf("/api/v1/runs/%d/tasks/nope/logs", run.ID), nil).wantError(t, 404, "not_found")

	// A finished attempt, followed with Accept: text/event-stream and
	// resumed after line 2: the rest, then the end.
	events = s.stream(path, map[string]string{"Accept": "text/event-stream", "Last-Event-ID": "2"})
	ev := next(t, events)
	if ev.id != "3" || logLine(t, ev).Line != "line two" {
		t.Fatalf("resumed event = %+v", ev)
	}
	if end := next(t, events); end.name != "end" {
		t.Fatalf("end = %+v", end)
	}

	// A task that never ran: an empty log, and a stream that ends at once.
	run = s.trigger("fails", nil)
	s.waitRun(run.ID, "failed")
	r = s.asAdmin("GET", fmt.Sprintf("/api/v1/runs/%d/tasks/b/logs", run.ID), nil).want(t, 200)
	if len(r.body) != 0 || r.header.Get("X-Sluice-Attempt") != "" {
		t.Fatalf("log of a task that never ran = %q %v", r.body, r.header)
	}
	events = s.stream(fmt.Sprintf("/api/v1/runs/%d/tasks/b/logs?follow=1", run.ID), nil)
	if end := next(t, events); end.name != "end" || end.data != `{"attempt":0,"state":"upstream_failed"}` {
		t.Fatalf("end = %+v", end)
	}
}
