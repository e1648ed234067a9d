package main_test

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/api"
)

// The CLI of pools, workers, variables, secrets, backfills and pipeline
// status, against a real server.

// eventually runs a command until its output contains want, failing the
// test after a minute.
func (s *cliServer) eventually(t *testing.T, want string, args ...string) result {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		r := s.cli(t, args...)
		if strings.Contains(r.stdout+r.stderr, want) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("sluice %v never showed %q; last:\n%s%s\nserver log:\n%s", args, want, r.stdout, r.stderr, s.logs())
		}
		<-tick.C
	}
}

func TestCLIPoolsWorkersAndRunDetails(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{
		"pooled.yaml": "id: pooled\ntasks:\n  load:\n    pool: warehouse\n    run: echo loaded\n",
		"gpu.yaml":    "id: gpu\ntasks:\n  train:\n    requires: [gpu]\n    run: echo trained\n",
		"mapped.yaml": `id: mapped
tasks:
  each:
    for_each: [alpha, beta, gamma]
    run: |
      if [ "$SLUICE_ITEM" = beta ]; then echo "no beta" >&2; exit 3; fi
      echo "item $SLUICE_ITEM"
`,
		"parent.yaml": "id: parent\ntasks:\n  call:\n    pipeline: child\n",
		"child.yaml":  "id: child\ntasks:\n  hello:\n    run: echo hello\n",
	})

	// Pools: none, then one of no slots, which holds its task back.
	s.cli(t, "pools", "list").want(t, 0, "No pools", "sluice pools set")
	s.cli(t, "pools", "set", "warehouse", "0", "--description", "the data warehouse").want(t, 0, "pool warehouse has 0 slot(s)")
	s.cli(t, "pools", "list").want(t, 0, "POOL", "SLOTS", "USED", "QUEUED", "warehouse", "the data warehouse")
	pooled := runID(t, s.cli(t, "pipelines", "trigger", "pooled").want(t, 0))
	gpu := runID(t, s.cli(t, "pipelines", "trigger", "gpu").want(t, 0))
	s.eventually(t, "blocked: pool warehouse has 0 slot(s)", "runs", "show", fmt.Sprint(pooled))
	var pools []api.Pool
	s.cli(t, "pools", "list", "--json").want(t, 0).decode(t, &pools)
	if len(pools) != 1 || pools[0].Slots != 0 || pools[0].Queued != 1 || pools[0].Description != "the data warehouse" {
		t.Fatalf("pools = %+v", pools)
	}
	// Resizing keeps the description unless given one.
	s.cli(t, "pools", "set", "warehouse", "2").want(t, 0, "pool warehouse has 2 slot(s)")
	s.cli(t, "runs", "show", fmt.Sprint(pooled), "--wait").want(t, 0, "load", "success")
	s.cli(t, "pools", "list", "--json").want(t, 0).decode(t, &pools)
	if len(pools) != 1 || pools[0].Slots != 2 || pools[0].Description != "the data warehouse" {
		t.Fatalf("resized pools = %+v", pools)
	}
	s.cli(t, "pools", "set", "warehouse", "many").want(t, 2, "SLOTS")
	s.cli(t, "pools", "set", "warehouse").want(t, 2, "accepts 2 arg")
	s.cli(t, "pools", "set", "bad name", "1").want(t, 1, "pool name")
	s.cli(t, "pools", "delete", "warehouse").want(t, 0, "deleted pool warehouse")
	s.cli(t, "pools", "delete", "warehouse").want(t, 1, "not found")

	// Workers: the server's own, alive, without labels; so the gpu task
	// waits, and says why.
	r := s.cli(t, "workers", "list").want(t, 0, "WORKER", "HOST", "LABELS", "alive")
	host, _ := os.Hostname()
	if !strings.Contains(r.stdout, host) {
		t.Errorf("workers list lacks the host %q:\n%s", host, r.stdout)
	}
	var workers []api.Worker
	s.cli(t, "workers", "list", "--json").want(t, 0).decode(t, &workers)
	if len(workers) != 1 || !workers[0].Alive || workers[0].Concurrency < 1 || workers[0].PID == 0 || workers[0].Labels == nil {
		t.Fatalf("workers = %+v", workers)
	}
	s.eventually(t, "blocked: no live worker has the label(s) gpu", "runs", "show", fmt.Sprint(gpu))
	s.cli(t, "runs", "cancel", fmt.Sprint(gpu)).want(t, 0)

	// A mapped task: its items under it, each with its state and error.
	r = s.cli(t, "pipelines", "trigger", "mapped", "--wait").want(t, 1)
	mapped := runID(t, r)
	r = s.cli(t, "runs", "show", fmt.Sprint(mapped)).want(t, 0, "3 item(s): 2 success, 1 failed", "[0] alpha", "[2] gamma")
	if !regexp.MustCompile(`\[1\] beta +failed .*exited with code 3`).MatchString(r.stdout) {
		t.Fatalf("the failed item and its error are not shown:\n%s", r.stdout)
	}
	var d api.RunDetail
	s.cli(t, "runs", "show", fmt.Sprint(mapped), "--json").want(t, 0).decode(t, &d)
	if len(d.Tasks) != 1 || d.Tasks[0].ItemsTotal != 3 || len(d.Tasks[0].Items) != 3 || d.Tasks[0].Items[1].State != "failed" {
		t.Fatalf("--json mapped run = %+v", d)
	}

	// A sub-pipeline: parent and child name each other.
	parent := runID(t, s.cli(t, "pipelines", "trigger", "parent", "--wait").want(t, 0))
	r = s.cli(t, "runs", "show", fmt.Sprint(parent)).want(t, 0, "CHILD RUN", "child run")
	var pd api.RunDetail
	s.cli(t, "runs", "show", fmt.Sprint(parent), "--json").want(t, 0).decode(t, &pd)
	if len(pd.Children) != 1 || pd.Children[0].Pipeline != "child" || pd.Children[0].ParentTask != "call" {
		t.Fatalf("children = %+v\n%s", pd.Children, r.stdout)
	}
	child := pd.Children[0].ID
	s.cli(t, "runs", "show", fmt.Sprint(child)).want(t, 0, fmt.Sprintf("started by    run %d, task call", parent))
}

func TestCLIVarsAndSecrets(t *testing.T) {
	t.Parallel()
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	value := "s3cr3t-" + hex.EncodeToString(b)
	s := startCLIServer(t, map[string]string{
		"uses.yaml": `id: uses
tasks:
  call:
    secrets: [API_TOKEN]
    env: {BUCKET: "${{ vars.bucket }}"}
    run: |
      echo "token is $API_TOKEN"
      echo "bucket is $BUCKET"
`,
	})
	var seen []result
	cli := func(stdin string, args ...string) result {
		t.Helper()
		r := s.cliIn(t, s.dir, stdin, args...)
		seen = append(seen, r)
		return r
	}

	// Variables.
	cli("", "vars", "list").want(t, 0, "No variables")
	cli("", "vars", "set", "bucket", "s3://data").want(t, 0, "set variable bucket = s3://data")
	if r := cli("", "vars", "get", "bucket").want(t, 0); r.stdout != "s3://data\n" {
		t.Fatalf("vars get = %q", r.stdout)
	}
	cli("line one\nline two\n", "vars", "set", "notes", "-").want(t, 0, "line one …")
	var v api.Variable
	cli("", "vars", "get", "notes", "--json").want(t, 0).decode(t, &v)
	if v.Name != "notes" || v.Value != "line one\nline two" {
		t.Fatalf("stdin variable = %+v", v)
	}
	cli("", "vars", "set", "empty", "").want(t, 0)
	if r := cli("", "vars", "get", "empty").want(t, 0); r.stdout != "\n" {
		t.Fatalf("empty variable = %q", r.stdout)
	}
	cli("", "vars", "list").want(t, 0, "VARIABLE", "bucket", "s3://data", "notes", "line one …", "empty")
	var vars []api.Variable
	cli("", "vars", "list", "--json").want(t, 0).decode(t, &vars)
	if len(vars) != 3 {
		t.Fatalf("vars = %+v", vars)
	}
	cli("", "vars", "get", "nope").want(t, 1, `variable "nope" not found`)
	cli("", "vars", "set", "bad-name", "x").want(t, 1, "variable name")
	cli("", "vars", "set", "x").want(t, 2, "accepts 2 arg")
	cli("", "vars", "delete", "empty").want(t, 0, "deleted variable empty")
	cli("", "vars", "delete", "empty").want(t, 1, "not found")

	// Secrets: the value from stdin, less its newline; never shown again.
	cli("", "secrets", "list").want(t, 0, "No secrets")
	cli(value+"\n", "secrets", "set", "API_TOKEN").want(t, 0, fmt.Sprintf("set secret API_TOKEN (%d bytes)", len(value)))
	cli("", "secrets", "set", "API_TOKEN").want(t, 2, "no value on stdin")
	cli("x", "secrets", "set", "SLUICE_KEY").want(t, 1, "reserved")
	cli("x", "secrets", "set", "1bad").want(t, 1, "secret name")
	cli("-----BEGIN KEY-----\nabc\n-----END KEY-----\n", "secrets", "set", "PEM").want(t, 0, "set secret PEM (41 bytes)")
	cli("", "secrets", "list").want(t, 0, "SECRET", "API_TOKEN", "PEM", "UPDATED")
	var secrets []api.Secret
	cli("", "secrets", "list", "--json").want(t, 0).decode(t, &secrets)
	if len(secrets) != 2 || secrets[0].Name != "API_TOKEN" {
		t.Fatalf("secrets = %+v", secrets)
	}
	run := runID(t, cli("", "pipelines", "trigger", "uses", "--wait").want(t, 0, "success"))
	cli("", "logs", fmt.Sprint(run), "call").want(t, 0, "token is ***", "bucket is s3://data")
	cli("", "logs", fmt.Sprint(run), "call", "--json").want(t, 0)
	cli("", "runs", "show", fmt.Sprint(run), "--json").want(t, 0)
	cli("", "secrets", "delete", "PEM").want(t, 0, "deleted secret PEM")
	cli("", "secrets", "delete", "PEM").want(t, 1, "not found")

	for _, r := range seen {
		if strings.Contains(r.stdout+r.stderr, value) {
			t.Fatalf("a command showed the secret's value:\n%s%s", r.stdout, r.stderr)
		}
	}
	if strings.Contains(s.logs(), value) {
		t.Fatal("the server's log has the secret's value")
	}
}

const backfillDaily = `id: daily
schedule: "0 3 * * *"
end: 2025-12-31
max_active_runs: 2
params:
  fail_on: {type: string, default: never}
tasks:
  work:
    run: test "$SLUICE_DS" != "$SLUICE_PARAM_FAIL_ON"
`

var createdBackfill = regexp.MustCompile(`backfill (\d+) of`)

func backfillID(t *testing.T, r result) int64 {
	t.Helper()
	m := createdBackfill.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no backfill id in %q", r.stdout)
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return id
}

func TestCLIBackfill(t *testing.T) {
	t.Parallel()
	gate := filepath.Join(t.TempDir(), "gate")
	s := startCLIServer(t, map[string]string{
		"daily.yaml":  backfillDaily,
		"manual.yaml": "id: manual\ntasks:\n  a:\n    run: echo\n",
		// slow runs one at a time, each waiting for the gate; the run the
		// scheduler makes for the last date of its schedule does not wait.
		"slow.yaml": fmt.Sprintf(`id: slow
schedule: "@daily"
end: 2025-12-31
max_active_runs: 1
tasks:
  wait:
    run: if [ "$SLUICE_DS" != 2025-12-31 ]; then while [ ! -e %q ]; do sleep 0.05; done; fi
`, gate),
	})
	t.Cleanup(func() { writeFile(t, filepath.Dir(gate), filepath.Base(gate), "") })

	// A dry run lists the dates and creates nothing.
	// Its dates read in the local zone, or UTC with --utc, as in every
	// command; the pipeline's zone (UTC here) follows when it differs.
	inWarsaw := *s
	inWarsaw.env = append(append([]string(nil), s.env...), "TZ=Europe/Warsaw")
	r := inWarsaw.cli(t, "backfill", "daily", "--from", "2025-01-01", "--to", "2025-01-03", "--dry-run").
		want(t, 0, "3 logical date(s), in local time (Europe/Warsaw)", "nothing was created")
	if !regexp.MustCompile(`(?m)^LOGICAL DATE\s+IN UTC \(THE SCHEDULE'S ZONE\)$`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^2025-01-01 04:00 Wed\s+2025-01-01 03:00 Wed$`).MatchString(r.stdout) {
		t.Errorf("dry run in Warsaw:\n%s", r.stdout)
	}
	r = inWarsaw.cli(t, "backfill", "daily", "--from", "2025-01-01", "--to", "2025-01-03", "--dry-run", "--utc").
		want(t, 0, "3 logical date(s), in UTC")
	if !regexp.MustCompile(`(?m)^LOGICAL DATE\n2025-01-01 03:00 Wed\n2025-01-02 03:00 Thu`).MatchString(r.stdout) {
		t.Errorf("dry run --utc: want one column of UTC dates:\n%s", r.stdout)
	}
	var dates api.BackfillDates
	s.cli(t, "backfill", "daily", "--from", "2025-01-01", "--to", "2025-01-03", "--dry-run", "--json").want(t, 0).decode(t, &dates)
	if len(dates.Dates) != 3 || dates.Timezone != "UTC" {
		t.Fatalf("--json dry run = %+v", dates)
	}
	s.cli(t, "backfill", "list", "daily").want(t, 0, "No backfills of daily")

	// A backfill, followed to its end. Without a terminal, progress comes
	// as a line per change of the counts.
	r = s.cli(t, "backfill", "daily", "--from", "2025-01-01", "--to", "2025-01-03").
		want(t, 0, "3 run(s) queued", "3/3 finished  3 success", "succeeded: 3 success")
	first := backfillID(t, r)
	var progress []string
	for _, line := range strings.Split(r.stdout, "\n") {
		if _, counts, ok := strings.Cut(line, " finished  "); ok {
			counts, _, _ = strings.Cut(counts, "  about")
			if len(progress) > 0 && progress[len(progress)-1] == counts {
				t.Fatalf("a progress line without a change:\n%s", r.stdout)
			}
			progress = append(progress, counts)
		}
	}
	if len(progress) == 0 {
		t.Fatalf("no progress lines:\n%s", r.stdout)
	}
	// The same dates again: nothing to run.
	s.cli(t, "backfill", "daily", "--from", "2025-01-01", "--to", "2025-01-03").want(t, 0, "0 run(s) queued", "3 date(s) skipped", "Nothing to run")

	// With params, one of which fails a date: exit 1.
	r = s.cli(t, "backfill", "daily", "--from", "2025-01-04", "--to", "2025-01-05", "-p", "fail_on=2025-01-05").
		want(t, 1, "2 run(s) queued", "finished with failures: 1 success, 1 failed", "--rerun failed")
	failed := backfillID(t, r)
	s.cli(t, "backfill", "daily", "--from", "2025-01-04", "--to", "2025-01-05", "-p", "nope=1").want(t, 1, "nope")

	// Rerun the failed date, detached; then follow it with show --wait.
	r = s.cli(t, "backfill", "daily", "--from", "2025-01-05", "--to", "2025-01-05", "--rerun", "failed", "--detach").
		want(t, 0, "1 run(s) queued", "sluice backfill show")
	rerun := backfillID(t, r)
	// The run keeps its params, so it fails again.
	s.cli(t, "backfill", "show", fmt.Sprint(rerun), "--wait").want(t, 1, "finished with failures: 1 failed")
	s.cli(t, "backfill", "show", fmt.Sprint(first)).want(t, 0, "state", "done", "3/3 finished", "3 success")
	// The rerun took the failed date's run over from its first backfill.
	s.cli(t, "backfill", "list", "daily").want(t, 0, "BACKFILL", "STATE", "FINISHED", "done", fmt.Sprint(first), fmt.Sprint(failed), "2025-01-05")
	var list []api.Backfill
	s.cli(t, "backfills", "list", "daily", "--json").want(t, 0).decode(t, &list)
	if len(list) != 4 || list[0].ID != rerun || list[len(list)-1].ID != first {
		t.Fatalf("--json list = %+v", list)
	}

	// Ctrl-C stops following and leaves the backfill running.
	cmd := exec.Command(binary, "backfill", "slow", "--from", "2025-03-01", "--to", "2025-03-02")
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), s.env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var out strings.Builder
	read := func(until string) {
		t.Helper()
		timeout := time.After(60 * time.Second)
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					return
				}
				out.WriteString(line + "\n")
				if until != "" && strings.Contains(line, until) {
					return
				}
			case <-timeout:
				t.Fatalf("the backfill's progress never showed %q:\n%s\nserver log:\n%s", until, out.String(), s.logs())
			}
		}
	}
	read("1 running")
	slow := backfillID(t, result{stdout: out.String()})
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	read("")
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("after Ctrl-C: %v\n%s", err, out.String())
	}
	for _, want := range []string{"Stopped following", fmt.Sprintf("sluice backfill cancel %d", slow)} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("after Ctrl-C, the output lacks %q:\n%s", want, out.String())
		}
	}
	s.cli(t, "backfill", "show", fmt.Sprint(slow)).want(t, 0, "running", "1 running, 1 queued", fmt.Sprintf("sluice backfill cancel %d", slow))
	s.cli(t, "backfill", "cancel", fmt.Sprint(slow)).want(t, 0, fmt.Sprintf("cancelled backfill %d of slow: 2 cancelled", slow))
	s.cli(t, "backfill", "cancel", fmt.Sprint(slow)).want(t, 1, "cancelled already")
	s.cli(t, "backfill", "show", fmt.Sprint(slow), "--wait").want(t, 1, "was cancelled")

	// Mistakes.
	s.cli(t, "backfill").want(t, 0, "Usage:", "sluice backfill PIPELINE --from DATE --to DATE", "list", "show", "cancel")
	s.cli(t, "backfill", "--from", "2025-01-01").want(t, 2, "which pipeline")
	s.cli(t, "backfill", "daily", "--from", "2025-01-01").want(t, 2, "--to is required")
	s.cli(t, "backfill", "daily", "--from", "yesterday", "--to", "2025-01-02").want(t, 2, `--from "yesterday"`)
	s.cli(t, "backfill", "daily", "--from", "2025-01-01", "--to", "2025-01-02", "--rerun", "some").want(t, 2, "--rerun")
	s.cli(t, "backfill", "daily", "--from", "2025-01-05", "--to", "2025-01-01").want(t, 1, "before")
	s.cli(t, "backfill", "manual", "--from", "2025-01-01", "--to", "2025-01-02").want(t, 1, "no schedule")
	s.cli(t, "backfill", "nope", "--from", "2025-01-01", "--to", "2025-01-02").want(t, 1, "not found")
	s.cli(t, "backfill", "show", "abc").want(t, 2, "backfill id")
	s.cli(t, "backfill", "show", "999999").want(t, 1, "not found")
}

func TestCLIStatus(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t, map[string]string{
		"good.yaml":     "id: good\ntasks:\n  a:\n    run: echo good\n",
		"changing.yaml": "id: changing\ntasks:\n  a:\n    run: echo one\n",
		"gone.yaml":     "id: gone\ntasks:\n  a:\n    run: echo gone\n",
		"bad.yaml":      "id: bad\ntasks:\n  a:\n    runn: echo\n",
	})
	s.eventually(t, "bad.yaml:4:5", "pipelines", "status")
	var before []api.Pipeline
	s.cli(t, "pipelines", "status", "changing", "--json").want(t, 0).decode(t, &before)

	// A file that stops parsing keeps its version live; one that goes is
	// missing.
	writeFile(t, s.pipes, "changing.yaml", "id: changing\ntasks:\n  a:\n    run: echo two\n    retries: lots\n")
	if err := os.Remove(filepath.Join(s.pipes, "gone.yaml")); err != nil {
		t.Fatal(err)
	}
	s.eventually(t, "error, old version live", "pipelines", "status", "changing")
	s.eventually(t, "missing", "pipelines", "status", "gone")
	s.cli(t, "pipelines", "pause", "good").want(t, 0)

	r := s.cli(t, "pipelines", "status").want(t, 1, "PIPELINE", "STATUS", "VERSION", "LOADED", "FILE",
		"error, never loaded", "error, old version live", "missing", "ok, paused",
		"bad: the file has errors", "it has no valid version yet", "bad.yaml:4:5", `unknown key "runn"`,
		"changing: the file has errors", "changing.yaml:5:14",
		"gone: its file", "has left the pipelines folder")
	if !strings.Contains(r.stdout, "version "+shortHash(before[0].Version)+" stays live") {
		t.Fatalf("the live version is not named:\n%s", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("a parse error is a status, not a failure of the command: stderr %q", r.stderr)
	}
	s.cli(t, "pipelines", "status", "good", "gone").want(t, 0, "ok, paused", "missing")
	s.cli(t, "pipelines", "status", "good", "nope", "other").want(t, 1, "no pipeline nope, other")
	var list []api.Pipeline
	s.cli(t, "pipelines", "status", "--json").want(t, 1).decode(t, &list)
	byID := map[string]api.Pipeline{}
	for _, p := range list {
		byID[p.ID] = p
	}
	if !byID["gone"].Missing || byID["good"].Missing || byID["bad"].ParseError == nil || byID["changing"].Version != before[0].Version {
		t.Fatalf("--json status = %+v", list)
	}
	s.cli(t, "pipelines", "list").want(t, 0, "file missing", "file has errors")
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func TestCLIHelpOfFeatures(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"pools", "--help"}, {"pools", "set", "--help"}, {"secrets", "set", "--help"}, {"vars", "--help"},
		{"backfill", "--help"}, {"backfill", "cancel", "--help"}, {"workers", "list", "--help"}, {"pipelines", "status", "--help"},
	} {
		r := sluiceCmd(t, ".", nil, args...)
		for _, want := range []string{"--server string", "[$SLUICE_SERVER]", "[$SLUICE_TOKEN]", "--json"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%v lacks %q:\n%s", args, want, r.stdout)
			}
		}
	}
	r := sluiceCmd(t, ".", nil, "--help")
	for _, want := range []string{"pools", "secrets", "vars", "backfill", "workers"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("sluice --help lacks %q", want)
		}
	}
	r = sluiceCmd(t, ".", nil, "backfill", "--help")
	for _, want := range []string{"sluice backfill PIPELINE --from DATE --to DATE [flags]", "sluice backfill [command]", "--rerun", "--dry-run", "--detach", "-p, --param"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("backfill --help lacks %q:\n%s", want, r.stdout)
		}
	}
}
