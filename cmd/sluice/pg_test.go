package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/postgres"
)

// proc is a sluice process of one role, with its log kept in memory.
type proc struct {
	role string
	cmd  *exec.Cmd
	done chan struct{}
	url  chan string
	// running is closed when the process says it runs its roles: by then
	// it handles SIGTERM (before, the signal would kill it outright).
	running chan struct{}

	mu  sync.Mutex
	log strings.Builder
}

// startProc starts `sluice ROLE args…` and returns at once.
func startProc(t *testing.T, dir, role string, args ...string) *proc {
	t.Helper()
	return startBinary(t, binary, dir, role, args...)
}

// startBinary is startProc for a given binary, such as another
// generation's.
func startBinary(t *testing.T, bin, dir, role string, args ...string) *proc {
	t.Helper()
	return startBinaryEnv(t, bin, dir, nil, role, args...)
}

// startBinaryEnv is startBinary with env added to the environment.
func startBinaryEnv(t *testing.T, bin, dir string, env []string, role string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{role}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{role: role, cmd: cmd, done: make(chan struct{}), url: make(chan string, 1), running: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil {
				switch rec["msg"] {
				case "listening":
					p.url <- rec["url"].(string)
				case "running":
					close(p.running)
				}
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func (p *proc) waitURL(t *testing.T) string {
	t.Helper()
	select {
	case u := <-p.url:
		return u
	case <-p.done:
		t.Fatalf("%s exited:\n%s", p.role, p.logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not listen:\n%s", p.role, p.logs())
	}
	return ""
}

// term stops a process with SIGTERM and returns its exit code.
func (p *proc) term(t *testing.T) int {
	t.Helper()
	// A process started a moment ago may not handle signals yet.
	select {
	case <-p.running:
	case <-p.done:
	case <-time.After(30 * time.Second):
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not stop on SIGTERM:\n%s", p.role, p.logs())
	}
	return p.cmd.ProcessState.ExitCode()
}

func openPG(t *testing.T, url string) store.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 2, NoListen: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// waitRuns waits until n runs of a pipeline exist and have all finished.
func waitRuns(t *testing.T, st store.Store, pipelineID string, n int, d time.Duration, logs func() string) []*store.Run {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		runs, err := st.RunList(context.Background(), &store.RunListParams{PipelineID: pipelineID, Limit: 100000})
		if err == nil && len(runs) >= n {
			finished := 0
			for _, r := range runs {
				if r.State.Finished() {
					finished++
				}
			}
			if finished == len(runs) {
				return runs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs of %s did not finish in %v (%d exist, err %v)\n%s", pipelineID, d, len(runs), err, logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRolesNeedPostgres(t *testing.T) {
	t.Parallel()
	for _, role := range []string{"scheduler", "worker", "web"} {
		r := sluiceCmd(t, t.TempDir(), nil, role)
		if r.code != 2 || !strings.Contains(r.stderr, "--db postgres://") || !strings.Contains(r.stderr, "sluice server") {
			t.Errorf("%s without --db: exit %d %s", role, r.code, r.stderr)
		}
	}
}

// TestSplitRolesAndDrainHandOff runs a scheduler, a web process and two
// workers as separate processes on PostgreSQL. A long task starts on one
// worker; SIGTERM makes that worker hand its lease back after the drain
// timeout, and the other worker runs the task at once, without counting a
// failure.
func TestSplitRolesAndDrainHandOff(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	os.Mkdir(pipes, 0o755)
	writeFile(t, pipes, "handoff.yaml", fmt.Sprintf(`id: handoff
schedule: "@every 24h"
tasks:
  long:
    run: |
      echo "$SLUICE_ATTEMPT" > %[1]s/started-$SLUICE_ATTEMPT
      if [ "$SLUICE_ATTEMPT" = 1 ]; then sleep 60; fi
`, dir))
	db := []string{"--db", url, "--listen", "127.0.0.1:0"}
	web := startProc(t, dir, "web", db...)
	webURL := web.waitURL(t)
	w1 := startProc(t, dir, "worker", append(db, "--drain-timeout", "500ms", "--worker-id", "w1")...)
	w1.waitURL(t)
	sch := startProc(t, dir, "scheduler", append(db, "--pipelines", pipes)...)
	sch.waitURL(t)
	waitFile(t, filepath.Join(dir, "started-1"), 30*time.Second, sch.logs)
	w2 := startProc(t, dir, "worker", append(db, "--worker-id", "w2")...)
	w2.waitURL(t)
	if code := w1.term(t); code != 0 {
		t.Fatalf("worker exited %d:\n%s", code, w1.logs())
	}
	waitFile(t, filepath.Join(dir, "started-2"), 10*time.Second, w2.logs)
	st := openPG(t, url)
	runs := waitRuns(t, st, "handoff", 1, 30*time.Second, w2.logs)
	atts, _ := st.AttemptListByRun(context.Background(), runs[0].ID)
	if len(atts) != 2 || atts[0].State != "handed_back" || atts[0].Worker != "w1" || atts[1].State != "success" || atts[1].Worker != "w2" {
		t.Fatalf("attempts: %+v / %+v", atts[0], atts[len(atts)-1])
	}
	if gap := atts[1].StartedAt.Sub(*atts[0].FinishedAt); gap > 5*time.Second {
		t.Fatalf("the other worker took %v to take the handed-back task", gap)
	}
	ins, _ := st.InstanceList(context.Background(), runs[0].ID)
	if ins[0].Failures != 0 {
		t.Fatalf("a handed-back attempt counted as a failure")
	}
	resp, body := httpGet(t, webURL+"/readyz")
	if resp != 200 || !strings.Contains(body, "ready") {
		t.Fatalf("web /readyz = %d %s", resp, body)
	}
	for _, p := range []*proc{sch, web, w2} {
		if code := p.term(t); code != 0 {
			t.Fatalf("%s exited %d:\n%s", p.role, code, p.logs())
		}
	}
}

// proxy forwards TCP connections to PostgreSQL until cut, to stage an
// outage without stopping the server other tests use.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

// cut drops every connection and refuses new ones until restore.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// viaProxy rewrites a database URL to go through the proxy.
func viaProxy(t *testing.T, rawURL string, p *proxy) string {
	t.Helper()
	u, err := neturl.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

// TestDatabaseOutage cuts PostgreSQL away for a few seconds while a task
// runs, once for `sluice server` and once for a scheduler, a worker and a
// web process apart: every process keeps going, says so once, reports not
// ready, and carries on when the database is back; the task is not
// killed, because the outage was shorter than its lease.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	for _, split := range []bool{false, true} {
		name := "server"
		if split {
			name = "scheduler+worker+web"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testDatabaseOutage(t, split)
		})
	}
}

func testDatabaseOutage(t *testing.T, split bool) {
	url := pgtest.Schema(t)
	u, _ := neturl.Parse(url)
	px := startProxy(t, u.Host)
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	os.Mkdir(pipes, 0o755)
	writeFile(t, pipes, "outage.yaml", fmt.Sprintf(`id: outage
schedule: "@every 24h"
tasks:
  long:
    run: touch %[1]s/started; sleep 6; echo survived
  after:
    depends_on: [long]
    run: touch %[1]s/after
`, dir))
	common := []string{"--db", viaProxy(t, url, px), "--listen", "127.0.0.1:0"}
	var procs []*proc
	if split {
		procs = []*proc{
			startProc(t, dir, "scheduler", append(common, "--pipelines", pipes)...),
			startProc(t, dir, "worker", append(common, "--lease", "10s")...),
			startProc(t, dir, "web", common...),
		}
	} else {
		procs = []*proc{startProc(t, dir, "server", append(common, "--pipelines", pipes, "--lease", "10s")...)}
	}
	bases := make([]string, len(procs))
	for i, p := range procs {
		bases[i] = p.waitURL(t)
	}
	logs := func() string {
		var b strings.Builder
		for _, p := range procs {
			fmt.Fprintf(&b, "--- %s\n%s", p.role, p.logs())
		}
		return b.String()
	}
	waitFile(t, filepath.Join(dir, "started"), 30*time.Second, logs)

	px.cut()
	for i, base := range bases {
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, body := httpGet(t, base+"/readyz")
			if code == 503 && strings.Contains(body, "unavailable") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: /readyz = %d %s during the outage", procs[i].role, code, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if code, _ := httpGet(t, base+"/healthz"); code != 200 {
			t.Fatalf("%s: /healthz = %d during the outage: the process is alive", procs[i].role, code)
		}
	}
	time.Sleep(3 * time.Second)
	px.restore()

	waitFile(t, filepath.Join(dir, "after"), 60*time.Second, logs)
	for i, base := range bases {
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, _ := httpGet(t, base+"/readyz")
			if code == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: /readyz = %d after the outage", procs[i].role, code)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, p := range procs {
		if code := p.term(t); code != 0 {
			t.Fatalf("%s exited %d:\n%s", p.role, code, p.logs())
		}
	}
	st := openPG(t, url)
	runs := waitRuns(t, st, "outage", 1, 10*time.Second, logs)
	atts, _ := st.AttemptListByRun(context.Background(), runs[0].ID)
	if len(atts) != 2 || atts[0].TaskID != "long" || atts[0].State != "success" {
		t.Fatalf("the task did not survive the outage: %+v", atts[0])
	}
	for _, p := range procs {
		l := p.logs()
		down := strings.Count(l, "database unavailable")
		up := strings.Count(l, "database reachable again")
		if down == 0 || up == 0 {
			t.Fatalf("%s did not report the outage (%d down, %d up):\n%s", p.role, down, up, l)
		}
		// One line per component and state change, not one per failed call.
		if down > 6 || up > 6 {
			t.Fatalf("%s: %d 'unavailable' and %d 'reachable' lines: a flood\n%s", p.role, down, up, l)
		}
		t.Logf("%s: %d 'unavailable' and %d 'reachable again' lines", p.role, down, up)
	}
}
