package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/client"
	"github.com/sluice-dev/sluice/server"
)

type testBundle struct {
	t     *testing.T
	ctx   context.Context
	c     *client.Client // with the admin token
	url   string
	pipes string
}

// setup runs a whole sluice server in this process, on port 0, with the
// pipeline files given, and returns a client with its admin token.
func setup(t *testing.T, files map[string]string) *testBundle {
	t.Helper()
	dir := t.TempDir()
	home, pipes := filepath.Join(dir, "home"), filepath.Join(dir, "pipelines")
	if err := os.Mkdir(pipes, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(pipes, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Config{
			Home: home, Pipelines: pipes, Listen: "127.0.0.1:0", Scheduler: true, Worker: true, Web: true,
			Concurrency: 4, Poll: 100 * time.Millisecond, Rescan: 100 * time.Millisecond, DrainTimeout: time.Second, KillGrace: time.Second,
			Lease: 10 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Listening: func(addr string) { listening <- addr },
		}, nil)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	var addr string
	select {
	case addr = <-listening:
	case err := <-done:
		t.Fatalf("server: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not listen")
	}
	var token string
	waitFor(t, "the CLI token", func() bool {
		data, err := os.ReadFile(filepath.Join(home, server.CLITokenFile))
		token = strings.TrimSpace(string(data))
		return err == nil && token != ""
	})
	url := "http://" + addr
	return &testBundle{t: t, ctx: context.Background(), c: client.New(url, token), url: url, pipes: pipes}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// waitRun waits until a run has finished and returns it.
func (b *testBundle) waitRun(id int64) *api.RunDetail {
	b.t.Helper()
	var d *api.RunDetail
	waitFor(b.t, "the run to finish", func() bool {
		var err error
		if d, err = b.c.GetRun(b.ctx, id); err != nil {
			b.t.Fatal(err)
		}
		return d.FinishedAt != nil
	})
	return d
}

func wantCode(t *testing.T, err error, code string) *sluice.Error {
	t.Helper()
	var e *sluice.Error
	if !errors.As(err, &e) || e.Code != code || e.Message == "" {
		t.Fatalf("error %v (%T), want a *sluice.Error with code %s", err, err, code)
	}
	return e
}

const helloPipeline = `id: hello
params:
  name: {type: string, default: world}
tasks:
  greet:
    run: |
      echo "hello $SLUICE_PARAM_NAME"
      echo "said=hello" >> "$SLUICE_OUTPUT"
  fail:
    depends_on: [greet]
    run: test "$SLUICE_PARAM_NAME" = world
`

func TestPipelinesAndRuns(t *testing.T) {
	t.Parallel()
	b := setup(t, map[string]string{"hello.yaml": helloPipeline})
	ctx, c := b.ctx, b.c

	list, err := c.ListPipelines(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "hello" {
		t.Fatalf("ListPipelines = %+v, %v", list, err)
	}
	p, err := c.GetPipeline(ctx, "hello")
	if err != nil || len(p.Tasks) != 2 || p.Source != helloPipeline {
		t.Fatalf("GetPipeline = %+v, %v", p, err)
	}
	_, err = c.GetPipeline(ctx, "nope")
	wantCode(t, err, sluice.ENOTFOUND)

	// A run that succeeds, with its task, outputs and log.
	run, err := c.Trigger(ctx, "hello", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := b.waitRun(run.ID)
	if d.State != "success" || len(d.Tasks) != 2 {
		t.Fatalf("run = %+v", d)
	}
	task, err := c.GetTask(ctx, run.ID, "greet")
	if err != nil || task.Outputs["said"] != "hello" || len(task.Attempts) != 1 {
		t.Fatalf("GetTask = %+v, %v", task, err)
	}
	lines, err := c.Logs(ctx, run.ID, "greet", 0)
	if err != nil || len(lines) != 1 || lines[0].Line != "hello world" || lines[0].Stream != "stdout" || lines[0].Time.IsZero() {
		t.Fatalf("Logs = %+v, %v", lines, err)
	}
	var followed []string
	end, err := c.FollowLogs(ctx, run.ID, "greet", 1, func(l api.LogLine) { followed = append(followed, l.Line) })
	if err != nil || end.Attempt != 1 || end.State != "success" || len(followed) != 1 || followed[0] != "hello world" {
		t.Fatalf("FollowLogs = %+v %v, %v", end, followed, err)
	}
	_, err = c.Cancel(ctx, run.ID)
	wantCode(t, err, sluice.ECONFLICT)

	// A run that fails: retry, mark, clear.
	run, err = c.Trigger(ctx, "hello", map[string]any{"name": "mars"})
	if err != nil {
		t.Fatal(err)
	}
	if d = b.waitRun(run.ID); d.State != "failed" {
		t.Fatalf("run = %+v", d)
	}
	if n, err := c.Retry(ctx, run.ID); err != nil || n != 1 {
		t.Fatalf("Retry = %d, %v", n, err)
	}
	b.waitRun(run.ID)
	ti, err := c.Mark(ctx, run.ID, "fail", "success")
	if err != nil || ti.State != "success" {
		t.Fatalf("Mark = %+v, %v", ti, err)
	}
	if ti, err = c.Clear(ctx, run.ID, "greet"); err != nil || ti.Task != "greet" {
		t.Fatalf("Clear = %+v, %v", ti, err)
	}
	if d = b.waitRun(run.ID); d.State != "failed" || d.Tasks[0].Attempts != 2 {
		t.Fatalf("after clear = %+v", d)
	}
	_, err = c.Trigger(ctx, "hello", map[string]any{"nope": 1})
	if e := wantCode(t, err, sluice.EINVALID); e.Details == nil {
		t.Fatalf("no details: %+v", e)
	}

	page, err := c.ListRuns(ctx, client.RunFilter{Pipeline: "hello", States: []string{"failed"}, Limit: 1})
	if err != nil || len(page.Runs) != 1 || page.Runs[0].ID != run.ID || page.NextBefore != nil {
		t.Fatalf("ListRuns = %+v, %v", page, err)
	}
	page, err = c.ListRuns(ctx, client.RunFilter{Limit: 1})
	if err != nil || page.NextBefore == nil {
		t.Fatalf("ListRuns = %+v, %v", page, err)
	}
	if page, err = c.ListRuns(ctx, client.RunFilter{Before: *page.NextBefore}); err != nil || len(page.Runs) != 1 {
		t.Fatalf("ListRuns before = %+v, %v", page, err)
	}

	// Pause; upload, versions, diff, delete.
	if pp, err := c.Pause(ctx, "hello"); err != nil || !pp.Paused {
		t.Fatalf("Pause = %+v, %v", pp, err)
	}
	if pp, err := c.Unpause(ctx, "hello"); err != nil || pp.Paused {
		t.Fatalf("Unpause = %+v, %v", pp, err)
	}
	up, err := c.Upload(ctx, "up.yaml", []byte("id: up\ntasks:\n  a:\n    run: echo 1\n"))
	if err != nil || !up.Created || up.Pipeline != "up" {
		t.Fatalf("Upload = %+v, %v", up, err)
	}
	if _, err := c.Upload(ctx, "up.yaml", []byte("id: up\ntasks:\n  a:\n    run: echo 2\n")); err != nil {
		t.Fatal(err)
	}
	versions, err := c.Versions(ctx, "up")
	if err != nil || len(versions) != 2 || !versions[0].Live {
		t.Fatalf("Versions = %+v, %v", versions, err)
	}
	v, err := c.Version(ctx, "up", up.Version[:8])
	if err != nil || v.ID != up.VersionID || !strings.Contains(v.Source, "echo 1") {
		t.Fatalf("Version = %+v, %v", v, err)
	}
	diff, err := c.Diff(ctx, "up", "", "")
	if err != nil || !strings.Contains(diff.Diff, "+    run: echo 2") {
		t.Fatalf("Diff = %+v, %v", diff, err)
	}
	_, err = c.Upload(ctx, "bad.yaml", []byte("id: bad\ntasks:\n  a:\n    runn: x\n"))
	e := wantCode(t, err, sluice.EINVALID)
	if details, ok := e.Details.([]any); !ok || len(details) == 0 || !strings.Contains(e.Message, "bad.yaml:4:5") {
		t.Fatalf("upload error = %+v", e)
	}
	_, err = c.Upload(ctx, "../up.yaml", []byte("id: up\ntasks:\n  a:\n    run: echo 1\n"))
	wantCode(t, err, sluice.EBADREQUEST)
	if err := c.DeletePipeline(ctx, "up"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.DeletePipeline(ctx, "hello"), sluice.ECONFLICT)
}

func TestUsersTokensAndSessions(t *testing.T) {
	t.Parallel()
	b := setup(t, map[string]string{"hello.yaml": helloPipeline})
	ctx, c := b.ctx, b.c
	u, err := c.CreateUser(ctx, api.UserCreate{Name: "ann", Password: "ann-password", Role: "operator"})
	if err != nil || u.Role != "operator" {
		t.Fatalf("CreateUser = %+v, %v", u, err)
	}
	if users, err := c.ListUsers(ctx); err != nil || len(users) != 2 {
		t.Fatalf("ListUsers = %+v, %v", users, err)
	}

	// A session: the client sends its cookie and CSRF token.
	s := client.New(b.url, "")
	_, err = s.ListPipelines(ctx)
	wantCode(t, err, sluice.EUNAUTH)
	if _, err := s.Login(ctx, "ann", "wrong-password"); err == nil {
		t.Fatal("a wrong password logged in")
	}
	if res, err := s.Login(ctx, "ann", "ann-password"); err != nil || res.Role != "operator" || res.CSRFToken == "" {
		t.Fatalf("Login = %+v, %v", res, err)
	}
	me, err := s.Me(ctx)
	if err != nil || me.Name != "ann" || me.Via != "session" {
		t.Fatalf("Me = %+v, %v", me, err)
	}
	if _, err := s.Trigger(ctx, "hello", nil); err != nil {
		t.Fatalf("a session's trigger: %v", err)
	}
	_, err = s.ListUsers(ctx)
	wantCode(t, err, sluice.EFORBIDDEN)
	if err := s.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = s.Me(ctx)
	wantCode(t, err, sluice.EUNAUTH)

	if u, err = c.UpdateUser(ctx, "ann", api.UserUpdate{Disabled: new(bool)}); err != nil || u.Disabled {
		t.Fatalf("UpdateUser = %+v, %v", u, err)
	}
	if err := c.DeleteUser(ctx, "ann"); err != nil {
		t.Fatal(err)
	}

	// A token: shown once, works, revoked.
	tk, err := c.CreateToken(ctx, api.TokenCreate{Name: "script", Role: "viewer"})
	if err != nil || !strings.HasPrefix(tk.Secret, "slc_") {
		t.Fatalf("CreateToken = %+v, %v", tk, err)
	}
	viewer := client.New(b.url, tk.Secret)
	if me, err := viewer.Me(ctx); err != nil || me.Role != "viewer" {
		t.Fatalf("Me = %+v, %v", me, err)
	}
	_, err = viewer.Trigger(ctx, "hello", nil)
	wantCode(t, err, sluice.EFORBIDDEN)
	tokens, err := c.ListTokens(ctx)
	if err != nil || len(tokens) != 2 {
		t.Fatalf("ListTokens = %+v, %v", tokens, err)
	}
	if err := c.DeleteToken(ctx, tk.ID); err != nil {
		t.Fatal(err)
	}
	_, err = viewer.Me(ctx)
	wantCode(t, err, sluice.EUNAUTH)
}

func TestErrorsWithoutTheAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Nothing listens.
	ln := httptest.NewServer(http.NotFoundHandler())
	url := ln.URL
	ln.Close()
	_, err := client.New(url, "").ListPipelines(ctx)
	if e := wantCode(t, err, sluice.EUNAVAIL); !strings.Contains(e.Message, url) {
		t.Fatalf("message %q", e.Message)
	}
	// A proxy's error page.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "<html>bad gateway</html>")
	}))
	defer proxy.Close()
	_, err = client.New(proxy.URL, "").ListPipelines(ctx)
	if e := wantCode(t, err, sluice.EUNAVAIL); !strings.Contains(e.Message, "502") {
		t.Fatalf("message %q", e.Message)
	}
	// A cancelled context is the context's error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := client.New(proxy.URL, "").ListPipelines(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestParseLogLine(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]api.LogLine{
		"2026-11-26T12:00:00.123456Z stdout hello world": {Time: time.Date(2026, 11, 26, 12, 0, 0, 123456000, time.UTC), Stream: "stdout", Line: "hello world"},
		"2026-11-26T12:00:00.000000Z stderr ":            {Time: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), Stream: "stderr", Line: ""},
		"2026-11-26T12:00:00.000000Z sluice":             {Time: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), Stream: "sluice", Line: ""},
		"not a log line":                                 {Stream: "sluice", Line: "not a log line"},
	} {
		if got := client.ParseLogLine(in); !got.Time.Equal(want.Time) || got.Stream != want.Stream || got.Line != want.Line {
			t.Errorf("ParseLogLine(%q) = %+v, want %+v", in, got, want)
		}
	}
}
