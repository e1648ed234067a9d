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
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	marks := filepath.Join(dir, "marks")
	for _, d := range []string{pipes, marks} {
		if err := os.Mkdir(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
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

	st := openHome(t, home)
	runs, err := st.RunList(context.Background(), &store.RunListParams{PipelineID: "crash_ctr"})
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
