package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/internal/enginetest"
	"github.com/sluice-dev/sluice/internal/kubetest"
	"github.com/sluice-dev/sluice/sluicetest"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// binary is the sluice binary built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "sluice")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sluice:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// sluiceCmd runs the binary to completion.
func sluiceCmd(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sluice %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

func examplesDir(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func TestRunEveryExample(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join(examplesDir(t), "*.yaml"))
	if len(files) < 12 {
		t.Fatalf("found %d examples", len(files))
	}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"ok"}`))
	}))
	t.Cleanup(hook.Close)
	// What some examples need from outside: a server to call, a param
	// without a default, a secret.
	extra := map[string][]string{
		"http.yaml":    {"-p", "url=" + hook.URL},
		"report.yaml":  {"-p", "region=eu"},
		"secrets.yaml": {"--secret", "API_TOKEN=e2e-token"},
		// The file a files trigger would give.
		"file_drop.yaml": {"-p", "file=" + filepath.Join(examplesDir(t), "file_drop.yaml")},
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			// A TMPDIR of its own, as on many machines: an example must
			// not depend on where temporary files go.
			env := []string{"TMPDIR=" + t.TempDir()}
			args := append([]string{"run", f}, extra[filepath.Base(f)]...)
			if filepath.Base(f) == "containers.yaml" {
				// The test engine, and its image: there is no registry here.
				env = append(env, "DOCKER_HOST="+enginetest.Require(t))
				args = append(args, "-p", "image="+enginetest.Image())
			}
			if filepath.Base(f) == "kubernetes.yaml" {
				// The test cluster, and its image on the real node.
				args = append(args, "--kubeconfig", kubetest.Require(t), "--kube-namespace", kubetest.Namespace(t), "-p", "image="+kubetest.Image)
			}
			r := sluiceCmd(t, t.TempDir(), env, args...)
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, "TASK") || !strings.Contains(r.stdout, " success in ") || strings.Contains(r.stdout, "failed") {
				t.Fatalf("output:\n%s", r.stdout)
			}
		})
	}
}

// writeFile saves a file whole (see sluicetest.WriteFile) and returns
// its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	sluicetest.WriteFile(t, path, content)
	return path
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ok := writeFile(t, dir, "ok.yaml", "id: ok\ntasks:\n  a:\n    run: echo hi\n")
	fail := writeFile(t, dir, "fail.yaml", "id: fail\ntasks:\n  a:\n    run: echo bad >&2; exit 3\n  b:\n    depends_on: [a]\n    run: echo never\n")
	bad := writeFile(t, dir, "bad.yaml", "id: bad\ntasks:\n  a:\n    runn: true\n    retries: x\n")
	if r := sluiceCmd(t, dir, nil, "run", ok); r.code != 0 || !strings.Contains(r.stdout, "| hi") {
		t.Fatalf("ok: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := sluiceCmd(t, dir, nil, "run", fail)
	if r.code != 1 || !strings.Contains(r.stdout, "exited with code 3") || !strings.Contains(r.stdout, "upstream_failed") || !strings.Contains(r.stdout, "! bad") {
		t.Fatalf("fail: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = sluiceCmd(t, dir, nil, "run", bad)
	for _, want := range []string{"bad.yaml:4:5: unknown key \"runn\"", "did you mean \"run\"?", "bad.yaml:5:14: retries: want an integer"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("invalid file: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r.code != 2 {
		t.Fatalf("invalid file: exit %d", r.code)
	}
	if r := sluiceCmd(t, dir, nil, "run", ok, "-p", "nope=1"); r.code != 2 || !strings.Contains(r.stderr, "nope") {
		t.Fatalf("unknown param: exit %d %s", r.code, r.stderr)
	}
}

// TestRunAllowFailure runs the pattern allow_failure is for: a
// best-effort task fails, its one_failed handler runs, the work after it
// runs, and the run succeeds (exit 0), with the failure shown as allowed.
func TestRunAllowFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := writeFile(t, dir, "af.yaml", `id: af
tasks:
  best_effort:
    allow_failure: true
    run: echo trying; exit 3
  alert:
    depends_on: [best_effort]
    trigger_rule: one_failed
    run: echo alerting
  load:
    depends_on: [best_effort]
    run: echo loading
`)
	r := sluiceCmd(t, dir, nil, "run", f)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0: the only failure is allowed\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"failed (allowed)  exited with code 3", "| alerting", "| loading", "2 success, 1 failed (allowed)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	bad := writeFile(t, dir, "bad.yaml", "id: bad\ntasks:\n  a:\n    allow_failure: sometimes\n    run: echo\n")
	if r := sluiceCmd(t, dir, nil, "validate", bad); r.code != 2 || !strings.Contains(r.stdout+r.stderr, `bad.yaml:4:20: allow_failure: want true or false, got "sometimes"`) {
		t.Errorf("validate of a wrong allow_failure: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestRunWhenSkipRanNothing: a task its when: condition skips shows as
// skipped with the condition, never as running, and has no attempt.
func TestRunWhenSkipRanNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := writeFile(t, dir, "w.yaml", "id: w\nparams:\n  go: {type: bool, default: false}\ntasks:\n  maybe:\n    when: ${{ params.go }}\n    run: echo ran\n")
	r := sluiceCmd(t, dir, nil, "run", f)
	if r.code != 0 || !strings.Contains(r.stdout, "maybe  skipped           when: ${{ params.go }} is false") || regexp.MustCompile(`maybe\s+running`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^maybe\s+skipped\s+0\s`).MatchString(r.stdout) {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = sluiceCmd(t, dir, nil, "run", f, "-p", "go=true")
	// The running line is not asserted: a task this short may finish
	// between two looks of the progress printer.
	if r.code != 0 || !strings.Contains(r.stdout, "| ran") || !regexp.MustCompile(`(?m)^maybe\s+success\s+1\s`).MatchString(r.stdout) {
		t.Fatalf("when true: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestRunListParams: a list param from -p maps a task, an empty list
// maps it to no instance, and an object param reaches env: typed.
func TestRunListParams(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := writeFile(t, dir, "lp.yaml", `id: lp
params:
  tables: {type: list, default: [orders]}
  config: {type: object, default: {mode: full}}
tasks:
  load:
    for_each: ${{ params.tables }}
    run: echo "loading $SLUICE_ITEM"
  show:
    env:
      MODE: ${{ params.config.mode }}
    run: echo "tables=$SLUICE_PARAM_TABLES mode=$MODE"
`)
	r := sluiceCmd(t, dir, nil, "run", f, "-p", "tables=a,b", "-p", `config={"mode": "delta"}`)
	for _, want := range []string{"| loading a", "| loading b", `| tables=["a","b"] mode=delta`, "load[1]"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("exit %d, output lacks %q:\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	}
	r = sluiceCmd(t, dir, nil, "run", f, "-p", "tables=")
	if r.code != 0 || !regexp.MustCompile(`(?m)^load\s+skipped`).MatchString(r.stdout) || strings.Contains(r.stdout, "load[0]") {
		t.Fatalf("an empty list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = sluiceCmd(t, dir, nil, "run", f, "-p", "config=[1]")
	if r.code != 2 || !strings.Contains(r.stderr, `param "config": want a JSON object, got [1]`) {
		t.Fatalf("a bad object: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestValidateWarnsOfJinja: a Jinja template is a warning, not an error:
// the file is valid (exit 0) and the warning says where and what to write.
func TestValidateWarnsOfJinja(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := writeFile(t, dir, "j.yaml", "id: j\ntasks:\n  a:\n    run: echo {{ ds }}\n")
	r := sluiceCmd(t, dir, nil, "validate", f)
	if r.code != 0 || !strings.Contains(r.stdout, "j.yaml:4:10: warning: run: {{ ds }} looks like a Jinja template") || !strings.Contains(r.stdout, "hint: read $SLUICE_DS from the environment") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestRunRetryAndTimeout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	flaky := writeFile(t, dir, "flaky.yaml", `id: flaky
tasks:
  flaky:
    retries: 1
    retry_delay: 1s
    run: test "$SLUICE_ATTEMPT" -ge 2
`)
	r := sluiceCmd(t, dir, nil, "run", flaky)
	if r.code != 0 || !strings.Contains(r.stdout, "up_for_retry") || !strings.Contains(r.stdout, "attempt 2") {
		t.Fatalf("flaky: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	slow := writeFile(t, dir, "slow.yaml", "id: slow\ntasks:\n  slow:\n    timeout: 500ms\n    run: sleep 30\n")
	start := time.Now()
	r = sluiceCmd(t, dir, nil, "run", slow)
	if r.code != 1 || !strings.Contains(r.stdout, "timed out after 500ms") {
		t.Fatalf("slow: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if time.Since(start) > 25*time.Second {
		t.Fatalf("the timeout did not stop the task")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	r := sluiceCmd(t, ".", nil, "validate", examplesDir(t))
	if r.code != 0 || strings.Count(r.stdout, ": ok: pipeline") < 4 {
		t.Fatalf("examples: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	dir := t.TempDir()
	writeFile(t, dir, "good.yaml", "id: good\ntasks:\n  a:\n    noop: true\n")
	writeFile(t, dir, "cycle.yaml", "id: cycle\ntasks:\n  a:\n    noop: true\n    depends_on: [b]\n  b:\n    noop: true\n    depends_on: [a]\n")
	r = sluiceCmd(t, dir, nil, "validate", ".")
	if r.code != 2 || !strings.Contains(r.stdout, "cycle.yaml:") || !strings.Contains(r.stdout, "dependency cycle") || !strings.Contains(r.stdout, "good.yaml: ok") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestValidateDuplicateIDs checks that files that define one pipeline id
// fail validation, each error naming the other files with the position of
// their id, as a server's pipelines folder would refuse them.
func TestValidateDuplicateIDs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", "id: orders\ntasks:\n  a:\n    noop: true\n")
	writeFile(t, dir, "b.yaml", "# a copy\nid: orders\ntasks:\n  b:\n    noop: true\n")
	writeFile(t, dir, "other.yaml", "id: other\ntasks:\n  a:\n    noop: true\n")
	r := sluiceCmd(t, dir, nil, "validate", ".")
	for _, want := range []string{
		`a.yaml:1:5: pipeline id "orders" is also defined in b.yaml:2:5`,
		`b.yaml:2:5: pipeline id "orders" is also defined in a.yaml:1:5`,
		"other.yaml: ok",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if r.code != 2 || strings.Contains(r.stdout, "a.yaml: ok") || strings.Contains(r.stdout, "b.yaml: ok") || !strings.Contains(r.stderr, "2 of 3 files have errors") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// Named one by one, the files clash too.
	if r := sluiceCmd(t, dir, nil, "validate", "a.yaml", "b.yaml"); r.code != 2 || !strings.Contains(r.stdout, "also defined in b.yaml:2:5") {
		t.Fatalf("files: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// server is a running `sluice server`.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	done chan struct{}

	mu  sync.Mutex
	log strings.Builder
}

// startServer starts `sluice server` on port 0 and waits for it to listen.
func startServer(t *testing.T, dir string, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"server", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, done: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			s.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "listening" {
				listening <- rec["url"].(string)
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
	})
	select {
	case s.url = <-listening:
	case <-s.done:
		t.Fatalf("server exited early:\n%s", s.logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not listen:\n%s", s.logs())
	}
	return s
}

func (s *server) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	s.t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		s.t.Fatalf("server did not stop on SIGTERM:\n%s", s.logs())
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Fatalf("server exited %d:\n%s", code, s.logs())
	}
}

func (s *server) get(path string) (int, string) {
	s.t.Helper()
	return httpGet(s.t, s.url+path)
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func waitFile(t *testing.T, path string, d time.Duration, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v; server log:\n%s", path, d, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openHome opens a stopped server's store to check what it recorded.
func openHome(t *testing.T, home string) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), home, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestServerHealthSchedulesAndOneProcessPerHome(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	os.Mkdir(pipes, 0o755)
	writeFile(t, pipes, "tick.yaml", `id: tick
schedule: "@every 1s"
tasks:
  tick:
    run: echo "$SLUICE_LOGICAL_DATE" >> "`+filepath.Join(dir, "ticks")+`"
`)
	// Flags from the environment: the home and the pipelines folder.
	env := []string{"SLUICE_HOME=" + filepath.Join(dir, "home"), "SLUICE_PIPELINES=" + pipes}
	s := startServer(t, dir, env)
	if code, body := s.get("/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("/healthz = %d %s", code, body)
	}
	if code, body := s.get("/readyz"); code != 200 || !strings.Contains(body, "ready") {
		t.Fatalf("/readyz = %d %s", code, body)
	}
	r := sluiceCmd(t, dir, env, "server", "--listen", "127.0.0.1:0")
	if r.code == 0 || !strings.Contains(r.stderr, "in use by pid") || !strings.Contains(r.stderr, "PostgreSQL") {
		t.Fatalf("a second server on the same home: exit %d\n%s", r.code, r.stderr)
	}
	// The schedule fires every second: wait for three runs.
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(filepath.Join(dir, "ticks"))
		if strings.Count(string(data), "\n") >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scheduled runs did not happen; ticks %q\n%s", data, s.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkMetrics(t, s)
	s.stop()
	st := openHome(t, filepath.Join(dir, "home"))
	runs, _ := st.RunList(context.Background(), &store.RunListParams{PipelineID: "tick"})
	keys := map[string]bool{}
	for _, r := range runs {
		if r.Kind != store.RunScheduled || !strings.HasPrefix(r.Key, "scheduled__") || keys[r.Key] {
			t.Fatalf("run %+v", r)
		}
		keys[r.Key] = true
	}
	if len(runs) < 3 {
		t.Fatalf("%d scheduled runs", len(runs))
	}
}

func TestServerHelpListsEnvAndDefaults(t *testing.T) {
	t.Parallel()
	r := sluiceCmd(t, ".", nil, "server", "--help")
	for _, want := range []string{"--listen string", `(default "127.0.0.1:8080")`, "[$SLUICE_LISTEN]", `(default "pipelines")`, "[$SLUICE_PIPELINES]", "[$SLUICE_HOME]", "--concurrency int", "(default 16)", "[$SLUICE_DRAIN_TIMEOUT]"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("server --help lacks %q", want)
		}
	}
	r = sluiceCmd(t, ".", []string{"SLUICE_CONCURRENCY=lots"}, "server")
	if r.code != 2 || !strings.Contains(r.stderr, "SLUICE_CONCURRENCY") {
		t.Fatalf("a bad env value: exit %d %s", r.code, r.stderr)
	}
	// A zero would silently mean the default: it is refused instead.
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"server", "--kill-grace", "0"}, "invalid --kill-grace 0s (flag or $SLUICE_KILL_GRACE): it must be more than 0"},
		{[]string{"SLUICE_DRAIN_TIMEOUT=0s"}, []string{"server"}, "invalid --drain-timeout 0s"},
		{nil, []string{"server", "--db-max-conns", "0"}, "invalid --db-max-conns 0"},
		{nil, []string{"run", "--concurrency", "-1", "x.yaml"}, "invalid --concurrency -1"},
		{nil, []string{"server", "--retention-every", "0"}, "or a negative duration to never prune"},
	} {
		r := sluiceCmd(t, t.TempDir(), c.env, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("sluice %s: exit %d, stderr %q, want 2 and %q", strings.Join(c.args, " "), r.code, r.stderr, c.want)
		}
	}
}

// TestCrashRecovery kills the server with SIGKILL while a task runs,
// restarts it, and checks the run still finishes with the lost attempt
// recorded.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	os.Mkdir(pipes, 0o755)
	marks := filepath.Join(dir, "marks")
	os.Mkdir(marks, 0o755)
	writeFile(t, pipes, "crash.yaml", fmt.Sprintf(`id: crash
schedule: "@every 1h"
tasks:
  first:
    run: echo first
  slow:
    depends_on: [first]
    retries: 1
    retry_delay: 1s
    run: |
      echo $$ > %[1]s/slow-$SLUICE_ATTEMPT.pid
      touch %[1]s/slow-$SLUICE_ATTEMPT
      sleep 3
  last:
    depends_on: [slow]
    run: touch %[1]s/last
`, marks))
	home := filepath.Join(dir, "home")
	args := []string{"--home", home, "--pipelines", pipes}
	s := startServer(t, dir, nil, args...)
	waitFile(t, filepath.Join(marks, "slow-1"), 30*time.Second, s.logs)
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
	// The kernel kills the task of a worker that dies (parent-death signal).
	data, err := os.ReadFile(filepath.Join(marks, "slow-1.pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(data), &pid)
	deadline := time.Now().Add(10 * time.Second)
	if pid <= 0 {
		t.Fatalf("no pid in slow-1.pid: %q", data)
	}
	for sluicetest.Alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("task process %d outlived its killed worker", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL) // its sleep, orphaned in the group

	s2 := startServer(t, dir, nil, args...)
	waitFile(t, filepath.Join(marks, "last"), 60*time.Second, s2.logs)
	s2.stop()

	st := openHome(t, home)
	runs, err := st.RunList(context.Background(), &store.RunListParams{PipelineID: "crash"})
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs = %v, %v", runs, err)
	}
	run := runs[0]
	if run.State != sluice.RunSuccess {
		t.Fatalf("run = %s", run.State)
	}
	var slowID int64
	ins, _ := st.InstanceList(context.Background(), run.ID)
	for _, in := range ins {
		if in.TaskID == "slow" {
			slowID = in.ID
		}
	}
	atts, _ := st.AttemptList(context.Background(), slowID)
	if len(atts) != 2 {
		t.Fatalf("attempts of slow: %d", len(atts))
	}
	if atts[0].State != sluice.AttemptLost || !strings.Contains(atts[0].Error, "stopped") || atts[0].FinishedAt == nil {
		t.Fatalf("lost attempt: %+v", atts[0])
	}
	if atts[1].State != sluice.AttemptSuccess {
		t.Fatalf("second attempt: %+v", atts[1])
	}
	if !strings.Contains(s2.logs(), "requeued attempts left running by a previous process") {
		t.Fatalf("restart did not report the recovery:\n%s", s2.logs())
	}
}

// checkMetrics scrapes /metrics of a server that ran the tick pipeline and
// checks each kind of metric the operations guide lists is there, with
// the values the runs imply.
func checkMetrics(t *testing.T, s *server) {
	t.Helper()
	// Attempts are counted once the worker recorded them: wait for one.
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for {
		var code int
		code, body = s.get("/metrics")
		if code != 200 {
			t.Fatalf("/metrics = %d %s", code, body)
		}
		if metricValue(body, `sluice_attempts_total{outcome="success",pipeline="tick"}`) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no successful attempt counted:\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range []struct {
		series string
		min    float64
	}{
		{`sluice_runs_started_total{kind="scheduled",pipeline="tick"}`, 1},
		{`sluice_runs_finished_total{pipeline="tick",state="success"}`, 1},
		{`sluice_task_ready_to_started_seconds_count{pool=""}`, 1},
		{`sluice_task_duration_seconds_count{outcome="success",pipeline="tick"}`, 1},
		{`sluice_scheduler_loop_seconds_count`, 1},
		{`sluice_db_call_seconds_count{op="AttemptComplete"}`, 1},
		{`sluice_db_call_seconds_count{op="read"}`, 1},
		{`sluice_pipeline_versions_loaded_total`, 1},
		{`sluice_http_requests_total{code="200",route="GET /healthz"}`, 1},
		{`sluice_store_up`, 1},
		{`sluice_pipelines_with_parse_errors`, 0},
		{`sluice_lease_expirations_total`, 0},
		{`process_resident_memory_bytes`, 1},
	} {
		if v := metricValue(body, want.series); v < want.min {
			t.Errorf("%s = %v, want at least %v", want.series, v, want.min)
		}
	}
	// Ids never become labels: the cardinality stays bounded.
	for _, bad := range []string{"run=", "run_id=", "attempt=", "instance="} {
		if strings.Contains(body, bad) {
			t.Errorf("/metrics has a %s label", bad)
		}
	}
}

// metricValue returns the value of one series in Prometheus' text format,
// -1 when it is absent.
func metricValue(body, series string) float64 {
	for _, line := range strings.Split(body, "\n") {
		rest, ok := strings.CutPrefix(line, series+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err == nil {
			return v
		}
	}
	return -1
}

// TestUsageErrorsExit2 checks that every mistake on a command line exits 2
// with the flag and what it wants, before anything runs or any server is
// asked (--server points nowhere): a flag value its flag refuses (states,
// bounds, durations, time ranges, choices, formats), a flag without its
// value, the wrong number of arguments.
func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ok := writeFile(t, dir, "ok.yaml", "id: ok\ntasks:\n  a:\n    run: echo hi\n")
	env := []string{"SLUICE_SERVER=http://127.0.0.1:1", "SLUICE_TOKEN=t", "SLUICE_HOME=" + filepath.Join(dir, "home")}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"runs", "list", "--state", "wrong"}, `"wrong": want queued, running, success, failed or cancelled`},
		{[]string{"runs", "list", "--state", "failed,nope"}, `"nope": want queued`},
		{[]string{"runs", "list", "--limit", "0"}, `--limit" flag: want a whole number from 1 to 500`},
		{[]string{"runs", "list", "--limit", "501"}, `from 1 to 500`},
		{[]string{"runs", "list", "--before", "x"}, `--before`},
		{[]string{"capacity", "--days", "400"}, `--days" flag: want a whole number from 1 to 366`},
		{[]string{"capacity", "--threshold", "rows=1G"}, `name the metric as pipeline.task.metric`},
		{[]string{"capacity", "--threshold", "a.b.c=lots"}, `is not a number`},
		{[]string{"backfill", "p", "--from", "yesterday", "--to", "2026-01-02"}, `--from "yesterday": want a date`},
		{[]string{"backfill", "p", "--from", "2026-01-01", "--to", "2026-01-02", "--rerun", "some"}, `--rerun "some": want failed or all`},
		{[]string{"logs", "1", "a", "--item", "-2"}, `--item -2: want the index of an item`},
		{[]string{"tokens", "create", "--role", "root"}, `--role" flag: want viewer, operator or admin`},
		{[]string{"tokens", "create", "--role", "admin", "--expires", "soon"}, `--expires" flag: want a duration of more than 0`},
		{[]string{"users", "create", "bob", "--role", "root"}, `want viewer, operator or admin`},
		{[]string{"db", "cleanup", "--retention", "forever"}, `--retention`},
		{[]string{"server", "--sync", "sometimes"}, `--sync" flag: want normal or full`},
		{[]string{"server", "--auth", "token"}, `--auth" flag: want password or none`},
		{[]string{"server", "--db", "mysql://db"}, `--db" flag: want empty (SQLite in --home) or a postgres:// URL`},
		{[]string{"server", "--lease", "long"}, `--lease`},
		{[]string{"server", "--retention", "forever"}, `--retention`},
		{[]string{"server", "--concurrency", "0"}, `--concurrency 0`},
		{[]string{"server", "--auth", "none", "--listen", "0.0.0.0:0"}, `--auth none is only allowed when listening on loopback`},
		{[]string{"worker", "--db", "postgres://127.0.0.1:1/x", "--poll", "often"}, `--poll`},
		{[]string{"run", ok, "--kill-grace", "long"}, `--kill-grace`},
		{[]string{"run", ok, "--pool", "big"}, `--pool "big": want NAME=SLOTS`},
		{[]string{"bench", "chain", "--sync", "sometimes"}, `want normal or full`},
		{[]string{"bench", "chain", "--tasks", "many"}, `--tasks`},
		{[]string{"doctor", "--labels"}, `flag needs an argument: --labels`},
		{[]string{"--log-format", "xml", "version"}, `--log-format "xml"`},
		{[]string{"bench"}, `accepts 1 arg(s), received 0`},
		{[]string{"validate"}, `requires at least 1 arg(s)`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			r := sluiceCmd(t, dir, env, tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, want 2 with %q\nstdout:\n%s\nstderr:\n%s", r.code, tt.want, r.stdout, r.stderr)
			}
		})
	}
}

// logLineMark is a printed log line of 'sluice run' or 'sluice logs': its
// time, an optional task column, the stream's mark and the text.
var logLineMark = regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d\d\d +(?:\S+ +)?([|!#]) (.*)$`)

// TestRunMarksStreamsLikeLogs runs a task that writes to stdout and
// stderr with 'sluice run', then reads its log with 'sluice logs' from a
// server on the same data dir: both mark every line the same way (| for
// stdout, ! for stderr).
func TestRunMarksStreamsLikeLogs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := writeFile(t, dir, "mixed.yaml", "id: mixed\ntasks:\n  talk:\n    run: |\n      echo to-out-1\n      echo to-err-1 >&2\n      sleep 0.1\n      echo to-out-2\n      echo to-err-2 >&2\n")
	r := sluiceCmd(t, dir, nil, "run", file, "--home", ".sluice")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	marks := func(out string) []string {
		var got []string
		for _, line := range strings.Split(out, "\n") {
			if m := logLineMark.FindStringSubmatch(line); m != nil && strings.HasPrefix(m[2], "to-") {
				got = append(got, m[1]+" "+m[2])
			}
		}
		sort.Strings(got)
		return got
	}
	ran := marks(r.stdout)
	if want := []string{"! to-err-1", "! to-err-2", "| to-out-1", "| to-out-2"}; strings.Join(ran, ",") != strings.Join(want, ",") {
		t.Fatalf("sluice run marks %q, want %q:\n%s", ran, want, r.stdout)
	}

	srv := startServer(t, dir, []string{"SLUICE_ADMIN_PASSWORD=admin-password"}, "--home", ".sluice", "--pipelines", filepath.Join(dir, "none"))
	waitFile(t, filepath.Join(dir, ".sluice", "cli-token"), 30*time.Second, srv.logs)
	l := sluiceCmd(t, dir, []string{"SLUICE_SERVER=" + srv.url, "SLUICE_TOKEN=", "SLUICE_HOME="}, "logs", "1", "talk")
	if l.code != 0 {
		t.Fatalf("logs: exit %d\n%s%s", l.code, l.stdout, l.stderr)
	}
	if logged := marks(l.stdout); strings.Join(logged, ",") != strings.Join(ran, ",") {
		t.Fatalf("sluice logs marks %q, sluice run %q:\n%s", logged, ran, l.stdout)
	}
}

// `sluice run -q` says only what did not go to plan and the run's result:
// tasks that succeed say nothing, task output is not shown, and there is
// no table.
// TestRunQuietChain runs a 200-task chain whose tasks all write log lines
// and outputs: with -q nothing went off plan, so sluice run prints its
// first line and the run's last, a few hundred bytes, where without -q it
// prints tens of kilobytes.
func TestRunQuietChain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id: quiet_chain\ntasks:\n")
	for i := range 200 {
		fmt.Fprintf(&b, "  t%03d:\n    run: 'echo chatter-%d; echo more >&2; echo n=%d >> \"$SLUICE_OUTPUT\"'\n", i, i, i)
		if i > 0 {
			fmt.Fprintf(&b, "    depends_on: [t%03d]\n", i-1)
		}
	}
	file := writeFile(t, dir, "chain.yaml", b.String())
	r := sluiceCmd(t, dir, nil, "run", "-q", file, "--home", ".sluice")
	if r.code != 0 {
		t.Fatalf("run -q: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "sluice: running quiet_chain ") || lines[1] != "" ||
		!strings.HasPrefix(lines[2], "run 1 success in ") || !strings.HasSuffix(lines[2], ": 200 success") {
		t.Fatalf("run -q of a chain that went to plan printed %d bytes:\n%s", len(r.stdout), r.stdout)
	}
	if len(r.stdout) > 200 || r.stderr != "" {
		t.Fatalf("run -q printed %d bytes and %d on stderr, want under 200 and none:\n%s%s", len(r.stdout), len(r.stderr), r.stdout, r.stderr)
	}
}

func TestRunQuiet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id: quiet\ntasks:\n  flaky: {run: 'test -e flag || { touch flag; echo first-try >&2; exit 3; }', retries: 1, retry_delay: 0s}\n  broken: {run: 'echo broken-out; exit 4'}\n  after: {run: 'true', depends_on: [broken]}\n")
	for i := range 50 {
		fmt.Fprintf(&b, "  ok%d: {run: 'echo chatter-%d'}\n", i, i)
	}
	file := writeFile(t, dir, "quiet.yaml", b.String())
	r := sluiceCmd(t, dir, nil, "run", "-q", file, "--home", ".sluice")
	if r.code != 1 {
		t.Fatalf("run -q: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var states []string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) >= 3 && strings.Count(f[0], ":") == 2 {
			states = append(states, f[1]+" "+f[2])
		}
	}
	sort.Strings(states)
	want := []string{"after upstream_failed", "broken failed", "flaky up_for_retry"}
	if strings.Join(states, ",") != strings.Join(want, ",") {
		t.Fatalf("run -q showed %q, want %q:\n%s", states, want, r.stdout)
	}
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "run 1 failed in ") || !strings.HasSuffix(last, "51 success, 1 failed, 1 upstream_failed") {
		t.Fatalf("last line %q", last)
	}
	for _, quiet := range []string{"chatter-", "broken-out", "first-try", "TASK"} {
		if strings.Contains(r.stdout, quiet) {
			t.Fatalf("run -q printed %q:\n%s", quiet, r.stdout)
		}
	}
}
