package main_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/store"
)

// followLog opens the API's log stream of a task and returns a channel
// closed when the stream ends (by its end event or by the connection
// closing).
// token may be empty (--auth none).
func followLog(t *testing.T, base, token string, run int64, task string) <-chan struct{} {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET",
		fmt.Sprintf("%s/api/v1/runs/%d/tasks/%s/logs?follow=true", base, run, task), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("follow: %s", resp.Status)
	}
	ended := make(chan struct{})
	opened := make(chan struct{})
	go func() {
		defer close(ended)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		first := true
		for sc.Scan() {
			if first {
				close(opened) // the stream's opening comment
				first = false
			}
		}
		if first {
			close(opened)
		}
	}()
	<-opened
	return ended
}

// TestSecondSignalStopsAtOnce: the first SIGTERM drains (a running task may
// finish, for up to --drain-timeout, here ten minutes), the second stops at
// once: the task's lease is handed back, and a client following its log
// sees the stream end instead of holding the process up.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	os.Mkdir(pipes, 0o755)
	started := filepath.Join(dir, "started")
	writeFile(t, pipes, "slow.yaml", fmt.Sprintf(`id: slow
schedule: "@every 24h"
tasks:
  wait:
    run: touch %q; sleep 300
`, started))
	srv := startServer(t, dir, []string{"SLUICE_ADMIN_PASSWORD=admin-password"},
		"--home", ".sluice", "--pipelines", pipes, "--poll", "100ms", "--drain-timeout", "10m")
	waitFile(t, filepath.Join(dir, ".sluice", "cli-token"), 30*time.Second, srv.logs)
	s := &cliServer{server: srv, dir: dir, pipes: pipes, env: []string{"SLUICE_SERVER=" + srv.url, "SLUICE_TOKEN=", "SLUICE_HOME="}}
	waitFile(t, started, 30*time.Second, srv.logs)
	var page struct {
		Runs []struct{ ID int64 }
	}
	s.cli(t, "runs", "list", "--pipeline", "slow", "--json").want(t, 0).decode(t, &page)
	if len(page.Runs) != 1 {
		t.Fatalf("runs = %+v", page)
	}
	token, err := os.ReadFile(filepath.Join(dir, ".sluice", "cli-token"))
	if err != nil {
		t.Fatal(err)
	}
	ended := followLog(t, srv.url, strings.TrimSpace(string(token)), page.Runs[0].ID, "wait")
	// A request that is no stream stays open too: its body never comes.
	// Only a second signal cuts it before the HTTP shutdown timeout.
	slow, err := net.Dial("tcp", strings.TrimPrefix(srv.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /api/v1/pipelines/slow/runs HTTP/1.1\r\nHost: sluice\r\n"+
		"Authorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
		strings.TrimSpace(string(token)))

	_ = srv.cmd.Process.Signal(syscall.SIGTERM)
	waitLog(t, srv.logs, "stopping: no new tasks are claimed")
	select {
	case <-srv.done:
		t.Fatalf("server stopped on the first signal, with a task running and a drain of 10m:\n%s", srv.logs())
	case <-ended:
		t.Fatalf("the log stream ended while the server drained:\n%s", srv.logs())
	case <-time.After(300 * time.Millisecond):
	}
	_ = srv.cmd.Process.Signal(syscall.SIGTERM)
	// Well inside the drain timeout: only the second signal can have
	// ended it.
	select {
	case <-srv.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not stop on the second signal:\n%s", srv.logs())
	}
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the log stream did not end with the server")
	}
	// Cut by the signal (the context was cancelled), not by the shutdown
	// timeout (its deadline exceeded).
	if !strings.Contains(srv.logs(), `"msg":"open HTTP requests cut short","err":"context canceled"`) {
		t.Fatalf("the open request was not cut by the second signal:\n%s", srv.logs())
	}
	st := openHome(t, filepath.Join(dir, ".sluice"))
	atts, err := st.AttemptListByRun(context.Background(), page.Runs[0].ID)
	if err != nil || len(atts) != 1 || atts[0].State != "handed_back" {
		t.Fatalf("attempts = %+v, %v\n%s", atts, err, srv.logs())
	}
}

// waitLog waits until a process's log has a line containing want.
func waitLog(t *testing.T, logs func() string, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", want, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebStopsWithOpenStreams: a web process with a client following a
// log (of a task no worker will start) stops on one SIGTERM without
// waiting out the shutdown timeout for the stream: the stream ends, and
// no request is cut short.
func TestWebStopsWithOpenStreams(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	st := openPG(t, url)
	ctx := context.Background()
	saved, err := st.PipelineSave(ctx, &store.PipelineSaveParams{ID: "idle", Hash: "h", MaxActiveRuns: 1,
		Tasks: []store.VersionTask{{TaskID: "never"}}})
	if err != nil {
		t.Fatal(err)
	}
	run, _, err := st.RunCreate(ctx, &store.RunCreateParams{PipelineID: "idle", VersionID: saved.VersionID, Key: "r1",
		Kind: store.RunManual, LogicalDate: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	web := startProc(t, t.TempDir(), "web", "--db", url, "--listen", "127.0.0.1:0", "--auth", "none")
	ended := followLog(t, web.waitURL(t), "", run.ID, "never")
	if code := web.term(t); code != 0 {
		t.Fatalf("web exited %d:\n%s", code, web.logs())
	}
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatalf("the stream stayed open after web exited:\n%s", web.logs())
	}
	if strings.Contains(web.logs(), "cut short") {
		t.Fatalf("web waited for the stream until its shutdown timeout:\n%s", web.logs())
	}
}
