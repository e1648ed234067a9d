package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
	"github.com/sluice-dev/sluice/control"
	"github.com/sluice-dev/sluice/scheduler"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/sqlite"
)

// cliServer is a running server and the environment its CLI commands run
// in: the server's directory, whose .sluice/cli-token the CLI finds.
type cliServer struct {
	*server
	dir, pipes string
	env        []string
}

func startCLIServer(t *testing.T, files map[string]string) *cliServer {
	t.Helper()
	return startCLIServerIn(t, t.TempDir(), files)
}

// startCLIServerIn is startCLIServer in dir, whose .sluice may hold a
// store already.
func startCLIServerIn(t *testing.T, dir string, files map[string]string) *cliServer {
	t.Helper()
	pipes := filepath.Join(dir, "pipelines")
	if err := os.Mkdir(pipes, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		writeFile(t, pipes, name, content)
	}
	s := startServer(t, dir, []string{"SLUICE_ADMIN_PASSWORD=admin-password"}, "--home", ".sluice", "--pipelines", pipes, "--poll", "100ms")
	waitFile(t, filepath.Join(dir, ".sluice", "cli-token"), 30*time.Second, s.logs)
	// SLUICE_SERVER points the CLI at the server; SLUICE_TOKEN and
	// SLUICE_HOME are cleared so that the test's own environment cannot
	// leak in.
	return &cliServer{server: s, dir: dir, pipes: pipes, env: []string{"SLUICE_SERVER=" + s.url, "SLUICE_TOKEN=", "SLUICE_HOME="}}
}

// cli runs a client command in the server's directory.
func (s *cliServer) cli(t *testing.T, args ...string) result {
	t.Helper()
	return s.cliIn(t, s.dir, "", args...)
}

// cliIn runs a client command in dir with stdin.
func (s *cliServer) cliIn(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdin = strings.NewReader(stdin)
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

// want fails the test unless the command exited with code and its stdout
// (for 0) or stderr contains each of the strings.
func (r result) want(t *testing.T, code int, contains ...string) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, c := range contains {
		if !strings.Contains(r.stdout+r.stderr, c) {
			t.Fatalf("output lacks %q\nstdout:\n%s\nstderr:\n%s", c, r.stdout, r.stderr)
		}
	}
	return r
}

func (r result) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, r.stdout)
	}
}

var startedRun = regexp.MustCompile(`started run (\d+) of`)

// runID reads the run id from the output of 'pipelines trigger'.
func runID(t *testing.T, r result) int64 {
	t.Helper()
	m := startedRun.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no run id in %q", r.stdout)
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return id
}

const cliPipelines = `id: hello
description: Says hello
tasks:
  greet:
    run: echo "hello from $SLUICE_PIPELINE"
  after:
    depends_on: [greet]
    run: echo after
`

func TestCLIPipelines(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{
		"hello.yaml":   cliPipelines,
		"failing.yaml": "id: failing\ntasks:\n  boom:\n    run: echo boom >&2; exit 4\n",
		"params.yaml":  "id: params\nparams:\n  count: {type: int, required: true}\ntasks:\n  a:\n    run: echo $SLUICE_PARAM_COUNT\n",
		"mapped.yaml":  "id: mapped\ntasks:\n  each:\n    for_each: [a, b]\n    run: echo \"processing $SLUICE_ITEM\"\n",
	})

	r := s.cli(t, "pipelines", "list").want(t, 0, "ID", "SCHEDULE", "hello", "failing", "manual")
	var list []api.Pipeline
	s.cli(t, "pipelines", "list", "--json").want(t, 0).decode(t, &list)
	if len(list) != 4 || list[1].ID != "hello" || list[1].Description != "Says hello" {
		t.Fatalf("--json list = %+v", list)
	}
	r = s.cli(t, "pipelines", "show", "hello").want(t, 0, "Says hello", "TASK", "greet", "after")
	if strings.Index(r.stdout, "greet") > strings.Index(r.stdout, "after") {
		t.Errorf("tasks not in dependency order:\n%s", r.stdout)
	}
	var detail api.PipelineDetail
	s.cli(t, "pipelines", "show", "hello", "--json").want(t, 0).decode(t, &detail)
	if len(detail.Tasks) != 2 || detail.Source != cliPipelines {
		t.Fatalf("--json show = %+v", detail)
	}
	s.cli(t, "pipelines", "show", "nope").want(t, 1, `pipeline "nope" not found`)

	// Trigger and wait: the exit status is the run's.
	r = s.cli(t, "pipelines", "trigger", "hello", "--wait").want(t, 0, "greet", "success", "after")
	id := runID(t, r)
	if !strings.Contains(r.stdout, fmt.Sprintf("run %d success in ", id)) {
		t.Fatalf("no summary:\n%s", r.stdout)
	}
	// --wait prints the tasks' log lines and mapped items, as sluice run.
	if !regexp.MustCompile(`(?m)^\S+  greet\s+\| hello from hello$`).MatchString(r.stdout) {
		t.Errorf("trigger --wait does not print greet's log line:\n%s", r.stdout)
	}
	s.cli(t, "pipelines", "trigger", "failing", "--wait").want(t, 1, "failed", "exited with code 4", "run", "boom  ! boom")
	r = s.cli(t, "pipelines", "trigger", "mapped", "--wait").want(t, 0, "expanded into 2 items", "each[1]  success")
	for _, want := range []string{`each\[0\]\s+\| processing a`, `each\[1\]\s+\| processing b`} {
		if !regexp.MustCompile(`(?m)^\S+  ` + want + `$`).MatchString(r.stdout) {
			t.Errorf("trigger --wait does not print the item's log line %s:\n%s", want, r.stdout)
		}
	}
	r = s.cli(t, "pipelines", "trigger", "params", "-p", "count=7").want(t, 0, "sluice runs show")
	s.cli(t, "runs", "show", fmt.Sprint(runID(t, r)), "--wait").want(t, 0, "success")
	s.cli(t, "pipelines", "trigger", "params", "-p", "count=many").want(t, 1, "count")
	s.cli(t, "pipelines", "trigger", "params").want(t, 1, "count")
	s.cli(t, "pipelines", "trigger", "params", "-p", "count").want(t, 2, "name=value")
	var run api.Run
	s.cli(t, "pipelines", "trigger", "params", "-p", "count=3", "--json").want(t, 0).decode(t, &run)
	var params map[string]any
	if err := json.Unmarshal(run.Params, &params); err != nil || run.Pipeline != "params" || params["count"] != float64(3) {
		t.Fatalf("--json trigger = %+v", run)
	}

	// Pause and unpause.
	s.cli(t, "pipelines", "pause", "hello").want(t, 0, "paused hello")
	s.cli(t, "pipelines", "list").want(t, 0, "paused")
	var p api.Pipeline
	s.cli(t, "pipelines", "unpause", "hello", "--json").want(t, 0).decode(t, &p)
	if p.Paused {
		t.Fatalf("unpaused = %+v", p)
	}

	// Upload: a good file, then a bad one.
	good := writeFile(t, t.TempDir(), "uploaded.yaml", "id: uploaded\ntasks:\n  a:\n    run: echo one\n")
	s.cli(t, "pipelines", "upload", good).want(t, 0, "uploaded uploaded.yaml: pipeline uploaded", "now live")
	s.cli(t, "pipelines", "upload", good).want(t, 0, "unchanged")
	bad := writeFile(t, t.TempDir(), "bad.yaml", "id: bad\ntasks:\n  a:\n    runn: echo\n")
	s.cli(t, "pipelines", "upload", bad).want(t, 1, "bad.yaml:4:5", "runn")
	s.cli(t, "pipelines", "upload", filepath.Join(t.TempDir(), "missing.yaml")).want(t, 2)
	s.cli(t, "pipelines", "versions", "uploaded").want(t, 0, "live")

	// Delete: asks first; without a terminal it needs --yes.
	s.cli(t, "pipelines", "delete", "uploaded").want(t, 2, "--yes")
	s.cli(t, "pipelines", "show", "uploaded").want(t, 0)
	s.cli(t, "pipelines", "delete", "uploaded", "--yes").want(t, 0, "deleted pipeline uploaded")
	s.cli(t, "pipelines", "show", "uploaded").want(t, 1, "not found")
	s.cli(t, "pipelines", "delete", "hello", "--yes").want(t, 1, "still exists")

	// Usage errors exit 2.
	s.cli(t, "pipelines", "show").want(t, 2, "accepts 1 arg")
	s.cli(t, "pipelines", "frobnicate").want(t, 2)
	s.cli(t, "pipelines", "list", "--bogus").want(t, 2)
	s.cli(t, "pipelines", "list", "--server", "::nonsense").want(t, 2, "--server")
}

func TestCLIRunsAndLogs(t *testing.T) {
	t.Parallel()
	gate := filepath.Join(t.TempDir(), "gate")
	s := startCLIServer(t, map[string]string{
		"hello.yaml": cliPipelines,
		"waits.yaml": "id: waits\ntasks:\n  wait:\n    run: sleep 60\n",
		"talk.yaml": fmt.Sprintf(`id: talk
tasks:
  talk:
    run: |
      echo "first line"
      while [ ! -e %q ]; do sleep 0.05; done
      echo "second line"
`, gate),
		"flaky.yaml": fmt.Sprintf("id: flaky\ntasks:\n  check:\n    run: test -e %q\n", gate+"-flaky"),
	})
	hello := runID(t, s.cli(t, "pipelines", "trigger", "hello", "--wait").want(t, 0))

	s.cli(t, "runs", "list").want(t, 0, "RUN", "PIPELINE", "hello", "success")
	var page api.RunList
	s.cli(t, "runs", "list", "--pipeline", "hello", "--state", "success,failed", "--limit", "5", "--json").want(t, 0).decode(t, &page)
	if len(page.Runs) != 1 || page.Runs[0].ID != hello {
		t.Fatalf("--json runs = %+v", page)
	}
	s.cli(t, "runs", "show", fmt.Sprint(hello)).want(t, 0, "TASK", "greet", "after", "success", "sluice logs")
	// Inside a task, SLUICE_PIPELINE and SLUICE_ATTEMPT are the task's run
	// context, not flags: they neither filter runs nor pick an attempt.
	inTask := *s
	inTask.env = append(append([]string{}, s.env...), "SLUICE_PIPELINE=nope", "SLUICE_ATTEMPT=7")
	inTask.cli(t, "runs", "list").want(t, 0, "hello")
	inTask.cli(t, "logs", fmt.Sprint(hello), "greet").want(t, 0, "hello from hello")
	inTask.cli(t, "runs", "list", "--pipeline", "nope").want(t, 0, "No runs.")
	var d api.RunDetail
	s.cli(t, "runs", "show", fmt.Sprint(hello), "--json").want(t, 0).decode(t, &d)
	if len(d.Tasks) != 2 || d.State != "success" {
		t.Fatalf("--json run = %+v", d)
	}
	s.cli(t, "runs", "show", "abc").want(t, 2, "run id")
	s.cli(t, "runs", "show", "999999").want(t, 1, "not found")
	s.cli(t, "runs", "cancel", fmt.Sprint(hello)).want(t, 1, "already finished")

	// Logs of a finished task.
	r := s.cli(t, "logs", fmt.Sprint(hello), "greet").want(t, 0, "hello from hello")
	var lines []api.LogLine
	for _, l := range strings.Split(strings.TrimSpace(s.cli(t, "logs", fmt.Sprint(hello), "greet", "--json").want(t, 0).stdout), "\n") {
		var line api.LogLine
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("--json log line %q: %v", l, err)
		}
		lines = append(lines, line)
	}
	if len(lines) != 1 || lines[0].Stream != "stdout" || lines[0].Line != "hello from hello" {
		t.Fatalf("--json logs = %+v (%s)", lines, r.stdout)
	}
	s.cli(t, "logs", fmt.Sprint(hello), "greet", "--attempt", "2").want(t, 1, "no attempt 2")

	// Follow a log as it is written: the first line arrives while the task
	// still runs; the command ends when the attempt does.
	talk := runID(t, s.cli(t, "pipelines", "trigger", "talk").want(t, 0))
	cmd := exec.Command(binary, "logs", fmt.Sprint(talk), "talk", "-f")
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), s.env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	got := make(chan string, 10)
	go func() {
		defer close(got)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			got <- sc.Text()
		}
	}()
	select {
	case line := <-got:
		if !strings.HasSuffix(line, "| first line") {
			t.Fatalf("first line %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("logs -f showed nothing")
	}
	s.cli(t, "runs", "show", fmt.Sprint(talk)).want(t, 0, "running")
	writeFile(t, filepath.Dir(gate), filepath.Base(gate), "")
	var rest []string
	for line := range got {
		rest = append(rest, line)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("logs -f: %v\n%s", err, stderr.String())
	}
	if len(rest) != 1 || !strings.HasSuffix(rest[0], "| second line") || !strings.Contains(stderr.String(), "attempt 1 ended: success") {
		t.Fatalf("rest %q, stderr %q", rest, stderr.String())
	}

	// Cancel a running run; retry a failed one.
	waits := runID(t, s.cli(t, "pipelines", "trigger", "waits").want(t, 0))
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(s.cli(t, "runs", "show", fmt.Sprint(waits)).stdout, "running") {
		if time.Now().After(deadline) {
			t.Fatal("the run did not start")
		}
		<-tick.C
	}
	s.cli(t, "runs", "cancel", fmt.Sprint(waits)).want(t, 0, "cancelled run")
	s.cli(t, "runs", "show", fmt.Sprint(waits)).want(t, 0, "cancelled")
	flaky := runID(t, s.cli(t, "pipelines", "trigger", "flaky", "--wait").want(t, 1, "failed"))
	writeFile(t, filepath.Dir(gate), filepath.Base(gate)+"-flaky", "")
	s.cli(t, "runs", "retry", fmt.Sprint(flaky)).want(t, 0, "retrying 1 task")
	s.cli(t, "runs", "show", fmt.Sprint(flaky), "--wait").want(t, 0, "success")
	s.cli(t, "runs", "retry", fmt.Sprint(flaky)).want(t, 0, "no failed tasks")
	s.cli(t, "runs", "mark", fmt.Sprint(flaky), "check", "failed").want(t, 0, "marked failed 1 task instance(s) in 1 run(s)")
	s.cli(t, "runs", "clear", fmt.Sprint(flaky), "check").want(t, 0, "cleared 1 task instance(s) in 1 run(s)")
	s.cli(t, "runs", "show", fmt.Sprint(flaky), "--wait").want(t, 0)
	s.cli(t, "runs", "mark", fmt.Sprint(flaky), "check", "maybe").want(t, 2)
}

// TestCLIClearOptions clears and marks with Airflow's options: a dry
// run, downstream or not, past runs, only failed ones.
func TestCLIClearOptions(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{
		"chain.yaml": "id: chain\ntasks:\n  a:\n    run: echo a\n  b:\n    depends_on: [a]\n    run: echo b\n  c:\n    depends_on: [b]\n    run: echo c\n",
	})
	r1 := runID(t, s.cli(t, "pipelines", "trigger", "chain", "--wait").want(t, 0))
	r2 := runID(t, s.cli(t, "pipelines", "trigger", "chain", "--wait").want(t, 0))
	run := fmt.Sprint(r2)
	r := s.cli(t, "runs", "clear", run, "b", "--dry-run").want(t, 0, "would clear 2 task instance(s) in 1 run(s)")
	if !regexp.MustCompile(`(?m)^`+run+`\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+b\s+success$`).MatchString(r.stdout) || !strings.Contains(r.stdout, "c  ") {
		t.Errorf("dry run does not list b and c of run %s:\n%s", run, r.stdout)
	}
	r = s.cli(t, "runs", "clear", run, "b", "--downstream=false", "--past", "--dry-run").want(t, 0, "would clear 2 task instance(s) in 2 run(s)")
	if !strings.Contains(r.stdout, fmt.Sprint(r1)+" ") {
		t.Errorf("--past does not list run %d:\n%s", r1, r.stdout)
	}
	var res api.SelectionResult
	s.cli(t, "runs", "clear", run, "a", "--upstream", "--dry-run", "--json").want(t, 0).decode(t, &res)
	if !res.DryRun || res.Count != 3 {
		t.Errorf("--json dry run = %+v, want 3 instances (a and its downstream)", res)
	}
	s.cli(t, "runs", "clear", run, "a", "--only-failed").want(t, 1, "nothing to clear")
	s.cli(t, "runs", "clear", run, "nope").want(t, 1, `task "nope" not found in run `+run)
	s.cli(t, "runs", "clear", run, "b", "--downstream=false").want(t, 0, "cleared 1 task instance(s) in 1 run(s)")
	s.cli(t, "runs", "show", run, "--wait").want(t, 0, "success")
	s.cli(t, "runs", "mark", run, "b", "failed", "--downstream").want(t, 0, "marked failed 2 task instance(s) in 1 run(s)")
	s.cli(t, "runs", "show", run).want(t, 0, "failed")
}

// TestCLIClearGroup clears the tasks of a task group with --group, as
// the run's version has them.
func TestCLIClearGroup(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{
		"grp.yaml": "id: grp\ntasks:\n  a:\n    run: echo a\n  f:\n    group: load\n    depends_on: [a]\n    run: echo f\n  d:\n    group: load\n    depends_on: [a]\n    run: echo d\n  r:\n    depends_on: [f, d]\n    run: echo r\n",
	})
	run := fmt.Sprint(runID(t, s.cli(t, "pipelines", "trigger", "grp", "--wait").want(t, 0)))
	var res api.SelectionResult
	s.cli(t, "runs", "clear", run, "--group", "load", "--downstream=false", "--dry-run", "--json").want(t, 0).decode(t, &res)
	var tasks []string
	for _, in := range res.Instances {
		tasks = append(tasks, in.Task)
	}
	if sort.Strings(tasks); strings.Join(tasks, ",") != "d,f" {
		t.Errorf("--group load selects %v, want d and f", tasks)
	}
	// With the default --downstream, r too; a task named beside the group
	// is added.
	s.cli(t, "runs", "clear", run, "a", "--group", "load", "--downstream=false", "--dry-run").want(t, 0, "would clear 3 task instance(s) in 1 run(s)")
	s.cli(t, "runs", "clear", run, "--group", "load").want(t, 0, "cleared 3 task instance(s) in 1 run(s)")
	s.cli(t, "runs", "show", run, "--wait").want(t, 0, "success")
	s.cli(t, "runs", "clear", run, "--group", "lod").want(t, 1, `run `+run+` has no task in group "lod": its groups are load`)
	s.cli(t, "runs", "clear", run).want(t, 2, "at least one task, or a group with --group")
}

func TestCLITokensAndUsers(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{"hello.yaml": cliPipelines})
	elsewhere := t.TempDir() // no .sluice/cli-token here

	// Without a token, away from the server's home: refused, with advice.
	s.cliIn(t, elsewhere, "", "pipelines", "list").want(t, 1, "log in", "sluice tokens create")

	// An operator token, shown once on stdout.
	r := s.cli(t, "tokens", "create", "--role", "operator", "--name", "ci", "--expires", "720h").want(t, 0, "only time")
	token := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(token, "slc_") || strings.Contains(token, "\n") {
		t.Fatalf("token output %q", r.stdout)
	}
	s.cliIn(t, elsewhere, "", "pipelines", "list", "--token", token).want(t, 0, "hello")
	s.cliIn(t, elsewhere, "", "pipelines", "trigger", "hello", "--token", token).want(t, 0, "started run")
	s.cliIn(t, elsewhere, "", "tokens", "list", "--token", token).want(t, 1, "admin role")
	s.cli(t, "tokens", "create").want(t, 2, "--role")

	// Listed without secrets; revoked, refused.
	r = s.cli(t, "tokens", "list").want(t, 0, "ci", "operator", "local CLI")
	if strings.Contains(r.stdout, token) {
		t.Fatal("tokens list shows a secret")
	}
	var tokens []api.Token
	s.cli(t, "tokens", "list", "--json").want(t, 0).decode(t, &tokens)
	var id int64
	for _, tk := range tokens {
		if tk.Name == "ci" {
			id = tk.ID
		}
	}
	s.cli(t, "tokens", "delete", fmt.Sprint(id)).want(t, 0, "revoked")
	s.cliIn(t, elsewhere, "", "pipelines", "list", "--token", token).want(t, 1, "not valid", "--token")
	var nt api.NewToken
	s.cli(t, "tokens", "create", "--role", "viewer", "--json").want(t, 0).decode(t, &nt)
	if !strings.HasPrefix(nt.Secret, "slc_") || nt.Role != "viewer" {
		t.Fatalf("--json token = %+v", nt)
	}
	s.cliIn(t, elsewhere, "", "pipelines", "trigger", "hello", "--token", nt.Secret).want(t, 1, "operator")

	// Users: the password from stdin.
	s.cliIn(t, s.dir, "bob-password\n", "users", "create", "bob", "--role", "viewer").want(t, 0, "created user bob")
	s.cliIn(t, s.dir, "", "users", "create", "carl", "--role", "viewer").want(t, 2, "password")
	s.cliIn(t, s.dir, "short\n", "users", "create", "carl", "--role", "viewer").want(t, 1, "8 characters")
	s.cli(t, "users", "list").want(t, 0, "admin", "bob", "viewer")
	var users []api.User
	s.cli(t, "users", "list", "--json").want(t, 0).decode(t, &users)
	if len(users) != 2 {
		t.Fatalf("users = %+v", users)
	}
	s.cli(t, "users", "delete", "bob").want(t, 0, "deleted user bob")
	s.cli(t, "users", "delete", "admin").want(t, 1, "last enabled admin")

	// A server that is not there.
	s.cliIn(t, elsewhere, "", "pipelines", "list", "--server", "http://127.0.0.1:1").want(t, 1, "cannot reach", "sluice server")
}

func TestCLIHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"pipelines", "--help"}, {"pipelines", "trigger", "--help"}, {"runs", "list", "--help"}, {"logs", "--help"}, {"tokens", "create", "--help"}, {"users", "--help"}} {
		r := sluiceCmd(t, ".", nil, args...)
		for _, want := range []string{"--server string", "[$SLUICE_SERVER]", "[$SLUICE_TOKEN]", "--json"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%v lacks %q:\n%s", args, want, r.stdout)
			}
		}
	}
	r := sluiceCmd(t, ".", nil, "--help")
	for _, want := range []string{"pipelines", "runs", "logs", "tokens", "users"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("sluice --help lacks %q", want)
		}
	}
}

// TestCLINextRunFollowsTheLastRun checks the next run that 'pipelines list'
// and 'pipelines show' give for an @every pipeline whose last scheduled
// run was 10 minutes ago: that run plus the interval, when the scheduler
// creates the next one, not now plus the interval.
func TestCLINextRunFollowsTheLastRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	last := time.Now().UTC().Truncate(time.Second).Add(-10 * time.Minute)
	func() {
		ctx := context.Background()
		st, err := sqlite.Open(ctx, filepath.Join(dir, ".sluice"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := control.New(st, nil, slog.New(slog.DiscardHandler)).Upload(ctx, "hourly.yaml", []byte("id: hourly\nschedule: \"@every 1h\"\ntasks:\n  a:\n    run: echo hi\n"), "test"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.RunCreate(ctx, &store.RunCreateParams{PipelineID: "hourly", Key: scheduler.RunKey(last), Kind: store.RunScheduled, LogicalDate: last, Params: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}()
	s := startCLIServerIn(t, dir, nil)
	want := last.Add(time.Hour)
	// As the CLI prints a time: always with the date.
	shown := want.Local().Format("2006-01-02 15:04")

	r := s.cli(t, "pipelines", "list").want(t, 0, "NEXT RUN")
	if !regexp.MustCompile(`(?m)^hourly\s+@every 1h\s+` + regexp.QuoteMeta(shown) + `\s`).MatchString(r.stdout) {
		t.Errorf("pipelines list: want next run %s (last run %s plus 1h):\n%s", shown, last.Local().Format("15:04:05"), r.stdout)
	}
	s.cli(t, "pipelines", "show", "hourly").want(t, 0, "next run "+shown)
	var list []api.Pipeline
	s.cli(t, "pipelines", "list", "--json").want(t, 0).decode(t, &list)
	if len(list) != 1 || list[0].NextRun == nil || !list[0].NextRun.Equal(want) {
		t.Fatalf("--json: next_run = %v, want %v", list[0].NextRun, want)
	}
}

// TestCLIBadRequestExit2 checks that a request the server finds malformed
// (bad_request: it is built from the command's flags and arguments) exits
// 2 like any usage error, while a well-formed request the server refuses
// for what it says exits 1.
func TestCLIBadRequestExit2(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{"hello.yaml": cliPipelines})
	s.cli(t, "pipelines", "diff", "hello").want(t, 2, "is the first version of", "give from=")
	s.cli(t, "pipelines", "trigger", "hello", "-p", "nope=1").want(t, 1, "nope")
}
