package main_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/docker"
	"github.com/sluice-dev/sluice/internal/enginetest"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/secret"
	"github.com/sluice-dev/sluice/store"
)

// containersOf lists the containers of a pipeline's attempts on e.
func containersOf(t *testing.T, e *docker.Engine, pipelineID string) (running, all int) {
	t.Helper()
	list, err := e.Containers(context.Background(), "dev.sluice.attempt")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if c.Labels["dev.sluice.pipeline"] == pipelineID {
			all++
			if c.Running {
				running++
			}
		}
	}
	return running, all
}

// TestContainerCrashRecovery kills a server with kill -9 while ten
// container tasks run. Its containers outlive it; the restarted server
// removes them (their attempts are over), retries every task once, and
// leaves no container behind.
func TestContainerCrashRecovery(t *testing.T) {
	host := enginetest.Require(t)
	t.Parallel()
	e, err := docker.Open(host)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	const n = 10
	dir, pipes, marks := crashFolders(t)
	var src strings.Builder
	src.WriteString("id: crash_ctr\nschedule: \"@every 1h\"\ntasks:\n")
	for i := 0; i < n; i++ {
		// The first attempt runs until it is stopped; the retry ends at
		// once. A task that finished twice would write its done file twice.
		fmt.Fprintf(&src, `  t%d:
    retries: 1
    retry_delay: 1s
    container: {image: %q, pull: never, volumes: ["%s:/marks"]}
    run: |
      touch /marks/$SLUICE_TASK-started-$SLUICE_ATTEMPT
      if [ "$SLUICE_ATTEMPT" = 1 ]; then sleep 600; fi
      echo "$SLUICE_ATTEMPT" >> /marks/$SLUICE_TASK-done
`, i, enginetest.Image(), marks)
	}
	writeFile(t, pipes, "crash_ctr.yaml", src.String())
	home := filepath.Join(dir, "home")
	args := []string{"--home", home, "--pipelines", pipes, "--container-host", host, "--lease", "3s", "--kill-grace", "1s"}

	s := startServer(t, dir, nil, args...)
	deadline := time.Now().Add(90 * time.Second)
	for {
		if running, _ := containersOf(t, e, "crash_ctr"); running == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %d containers did not start:\n%s", n, s.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
	if running, _ := containersOf(t, e, "crash_ctr"); running != n {
		t.Fatalf("%d containers run after the crash, want the %d it left behind", running, n)
	}

	s2 := startServer(t, dir, nil, args...)
	for i := 0; i < n; i++ {
		waitFile(t, filepath.Join(marks, fmt.Sprintf("t%d-done", i)), 90*time.Second, s2.logs)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		_, all := containersOf(t, e, "crash_ctr")
		if all == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d containers left after the recovery:\n%s", all, s2.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s2.stop()
	if !strings.Contains(s2.logs(), "removing a container whose attempt is over") {
		t.Errorf("the restarted server did not say it removed the containers left behind:\n%s", s2.logs())
	}

	checkRetriedOnce(t, openHome(t, home), "crash_ctr", n, marks)
}

// mixedPipeline mixes shell and container tasks: outputs pass both ways, a
// container task fails once and is retried, another times out once, and a
// secret reaches a container masked.
func mixedPipeline(schedule string) string {
	return strings.ReplaceAll(schedule+`tasks:
  extract:
    run: echo "rows=42" >> "$SLUICE_OUTPUT"
  transform:
    depends_on: [extract]
    retries: 1
    retry_delay: 1s
    secrets: [DB_PASSWORD]
    container: {image: "IMAGE", pull: never}
    run: |
      echo "password $DB_PASSWORD"
      test "$SLUICE_ATTEMPT" -ge 2 || exit 3
      echo "rows=$((SLUICE_OUTPUT_EXTRACT_ROWS * 2))" >> "$SLUICE_OUTPUT"
  slow:
    depends_on: [extract]
    retries: 1
    retry_delay: 1s
    timeout: 2s
    container: {image: "IMAGE", pull: never}
    run: if [ "$SLUICE_ATTEMPT" = 1 ]; then sleep 60; fi
  load:
    depends_on: [transform, slow]
    run: test "$SLUICE_OUTPUT_TRANSFORM_ROWS" = 84
`, "IMAGE", enginetest.Image())
}

func checkMixed(t *testing.T, st store.Store, runID int64, logs func() string) {
	t.Helper()
	atts, err := st.AttemptListByRun(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string][]sluice.AttemptState{}
	for _, a := range atts {
		states[a.TaskID] = append(states[a.TaskID], a.State)
	}
	want := map[string]string{
		"extract": "[success]", "transform": "[failed success]", "slow": "[timed_out success]", "load": "[success]",
	}
	for task, w := range want {
		if got := fmt.Sprint(states[task]); got != w {
			t.Errorf("%s: attempts %s, want %s\n%s", task, got, w, logs())
		}
	}
	for _, a := range atts {
		if a.TaskID != "transform" {
			continue
		}
		chunks, _ := st.LogList(context.Background(), a.ID, 0)
		var log strings.Builder
		for _, c := range chunks {
			log.Write(c.Data)
		}
		if !strings.Contains(log.String(), " o password ***\n") || strings.Contains(log.String(), "hunter2") {
			t.Errorf("transform's log does not mask the secret:\n%s", log.String())
		}
	}
}

// The pipeline of issue 12's "done when" runs green with sluice run.
func TestContainerPipelineWithRun(t *testing.T) {
	host := enginetest.Require(t)
	t.Parallel()
	dir := t.TempDir()
	file := writeFile(t, dir, "mixed.yaml", mixedPipeline("id: mixed\n"))
	home := filepath.Join(dir, "home")
	r := sluiceCmd(t, dir, []string{"DOCKER_HOST=" + host}, "run", file, "--home", home, "--secret", "DB_PASSWORD=hunter2-s3cret", "--kill-grace", "1s")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "hunter2") {
		t.Errorf("the secret is in sluice run's output:\n%s", r.stdout)
	}
	st := openHome(t, home)
	runs, err := st.RunList(context.Background(), &store.RunListParams{PipelineID: "mixed"})
	if err != nil || len(runs) != 1 || runs[0].State != sluice.RunSuccess {
		t.Fatalf("runs %+v, %v", runs, err)
	}
	checkMixed(t, st, runs[0].ID, func() string { return r.stdout })
}

// The same pipeline runs green on PostgreSQL with a scheduler and two
// workers, and leaves no container.
func TestContainerPipelineTwoWorkers(t *testing.T) {
	host := enginetest.Require(t)
	t.Parallel()
	url := pgtest.Schema(t)
	key := strings.Repeat("ab", 32)
	k, err := secret.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	box, err := secret.NewBox(k)
	if err != nil {
		t.Fatal(err)
	}
	st := openPG(t, url)
	if err := st.SecretSet(context.Background(), "DB_PASSWORD", box.Seal("DB_PASSWORD", []byte("hunter2-s3cret"))); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	os.Mkdir(pipes, 0o755)
	writeFile(t, pipes, "mixed2.yaml", mixedPipeline("id: mixed2\nschedule: \"@every 24h\"\n"))
	db := []string{"--db", url, "--listen", "127.0.0.1:0"}
	env := []string{secret.EnvVar + "=" + key}
	var workers []*proc
	for _, id := range []string{"w1", "w2"} {
		w := startBinaryEnv(t, binary, dir, env, "worker", append(db, "--worker-id", id, "--container-host", host, "--kill-grace", "1s", "--concurrency", "1")...)
		w.waitURL(t)
		workers = append(workers, w)
	}
	sch := startProc(t, dir, "scheduler", append(db, "--pipelines", pipes)...)
	sch.waitURL(t)
	logs := func() string { return sch.logs() + workers[0].logs() + workers[1].logs() }
	runs := waitRuns(t, st, "mixed2", 1, 90*time.Second, logs)
	if runs[0].State != sluice.RunSuccess {
		t.Fatalf("run %s\n%s", runs[0].State, logs())
	}
	checkMixed(t, st, runs[0].ID, logs)
	atts, _ := st.AttemptListByRun(context.Background(), runs[0].ID)
	used := map[string]bool{}
	for _, a := range atts {
		used[a.Worker] = true
	}
	if !used["w1"] || !used["w2"] {
		t.Errorf("attempts ran on %v, want both workers (one slot each)", used)
	}
	e, err := docker.Open(host)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, all := containersOf(t, e, "mixed2"); all != 0 {
		t.Errorf("%d containers left", all)
	}
	for _, p := range append(workers, sch) {
		if code := p.term(t); code != 0 {
			t.Fatalf("%s exited %d:\n%s", p.role, code, p.logs())
		}
	}
}

// crashFolders makes a crash test's folders: its own, the pipelines
// folder in it, and the marks folder its tasks record their runs in.
func crashFolders(t *testing.T) (dir, pipes, marks string) {
	t.Helper()
	dir = t.TempDir()
	pipes = filepath.Join(dir, "pipelines")
	marks = filepath.Join(dir, "marks")
	for _, d := range []string{pipes, marks} {
		if err := os.Mkdir(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	return dir, pipes, marks
}

// checkRetriedOnce checks the one run of a crash test's pipeline: it
// succeeded, each of its n tasks t0…t{n-1} has a lost attempt and then a
// successful one, and each finished once, by its second attempt (its
// done file in marks holds "2").
func checkRetriedOnce(t *testing.T, st store.Store, pipelineID string, n int, marks string) {
	t.Helper()
	runs, err := st.RunList(context.Background(), &store.RunListParams{PipelineID: pipelineID})
	if err != nil || len(runs) != 1 || runs[0].State != sluice.RunSuccess {
		t.Fatalf("runs = %+v, %v", runs, err)
	}
	atts, err := st.AttemptListByRun(context.Background(), runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	byTask := map[string][]*store.Attempt{}
	for _, a := range atts {
		byTask[a.TaskID] = append(byTask[a.TaskID], a)
	}
	for i := 0; i < n; i++ {
		task := fmt.Sprintf("t%d", i)
		a := byTask[task]
		if len(a) != 2 || a[0].State != sluice.AttemptLost || a[1].State != sluice.AttemptSuccess {
			t.Errorf("%s: attempts %+v, want lost then success", task, a)
		}
		done, err := os.ReadFile(filepath.Join(marks, task+"-done"))
		if err != nil || string(done) != "2\n" {
			t.Errorf("%s finished %q, want once, by its second attempt", task, done)
		}
	}
}
