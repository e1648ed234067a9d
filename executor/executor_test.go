package executor_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
	"github.com/sluice-dev/sluice/executor"
	"github.com/sluice-dev/sluice/sluicetest"
)

type lines struct {
	mu  sync.Mutex
	got []string
}

func (l *lines) Line(s executor.Stream, _ time.Time, b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, string(s)+" "+string(b))
}

func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.got...)
}

func run(t *testing.T, r *executor.Request) (*executor.Result, *lines) {
	t.Helper()
	l := &lines{}
	r.Log = l
	if r.Dir == "" {
		r.Dir = t.TempDir()
	}
	if r.Env == nil {
		r.Env = os.Environ()
	}
	return executor.Run(context.Background(), r), l
}

func TestNoop(t *testing.T) {
	t.Parallel()
	res := executor.Run(context.Background(), &executor.Request{})
	if res.State != sluice.AttemptSuccess {
		t.Fatalf("noop = %+v", res)
	}
}

func TestScriptSuccessAndLogs(t *testing.T) {
	t.Parallel()
	res, l := run(t, &executor.Request{Script: `echo out1; echo err1 >&2; printf 'no newline'`})
	if res.State != sluice.AttemptSuccess || res.ExitCode == nil || *res.ExitCode != 0 {
		t.Fatalf("result = %+v", res)
	}
	got := strings.Join(l.all(), "|")
	for _, want := range []string{"o out1", "e err1", "o no newline"} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q lacks %q", got, want)
		}
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	res, _ := run(t, &executor.Request{Script: "exit 3"})
	if res.State != sluice.AttemptFailed || *res.ExitCode != 3 || res.Error != "exited with code 3" {
		t.Fatalf("result = %+v", res)
	}
}

func TestArgvNoShell(t *testing.T) {
	t.Parallel()
	res, l := run(t, &executor.Request{Argv: []string{"echo", "$HOME", "a b"}})
	if res.State != sluice.AttemptSuccess {
		t.Fatalf("result = %+v", res)
	}
	if got := l.all(); len(got) != 1 || got[0] != "o $HOME a b" {
		t.Fatalf("argv was interpreted by a shell: %q", got)
	}
}

func TestProgramNotFound(t *testing.T) {
	t.Parallel()
	res, _ := run(t, &executor.Request{Argv: []string{"no-such-program-sluice"}})
	if res.State != sluice.AttemptFailed || !strings.Contains(res.Error, "cannot start") || !strings.Contains(res.Error, "no-such-program-sluice") {
		t.Fatalf("result = %+v", res)
	}
}

func TestMissingWorkdir(t *testing.T) {
	t.Parallel()
	res, _ := run(t, &executor.Request{Script: "true", Dir: "/no/such/dir"})
	if res.State != sluice.AttemptFailed || !strings.Contains(res.Error, "/no/such/dir") {
		t.Fatalf("result = %+v", res)
	}
}

// pidAlive reports whether a process exists.
func pidAlive(pid int) bool {
	return sluicetest.Alive(pid)
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	if pid <= 0 { // kill(0) and kill(-1) would address whole groups
		t.Fatalf("no pid read (%d)", pid)
	}
	deadline := time.Now().Add(5 * time.Second)
	for pidAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	// The shell starts a child that ignores nothing and sleeps; the whole
	// group must die, not just the shell.
	res, _ := run(t, &executor.Request{
		Script:    `sleep 60 & echo $! > child.pid; wait`,
		Dir:       dir,
		Timeout:   2 * time.Second, // the shell must have written the pid by then
		KillGrace: time.Second,
	})
	if res.State != sluice.AttemptTimedOut || !strings.Contains(res.Error, "timed out after 2s") {
		t.Fatalf("result = %+v", res)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	waitGone(t, pid)
}

func TestTimeoutEscalatesToSIGKILL(t *testing.T) {
	t.Parallel()
	res, _ := run(t, &executor.Request{
		Script:    `trap '' TERM; while true; do sleep 0.05; done`,
		Timeout:   2 * time.Second, // the trap must be set by then
		KillGrace: 200 * time.Millisecond,
	})
	if res.State != sluice.AttemptTimedOut || !strings.Contains(res.Error, "SIGKILL") {
		t.Fatalf("result = %+v", res)
	}
}

func TestContextStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan *executor.Result)
	go func() {
		done <- executor.Run(ctx, &executor.Request{Script: "sleep 60", Dir: t.TempDir(), KillGrace: time.Second})
	}()
	cancel(errors.New("lease lost"))
	res := <-done
	if !res.Stopped || res.State != sluice.AttemptFailed || !strings.Contains(res.Error, "lease lost") {
		t.Fatalf("result = %+v", res)
	}
}

func TestLeftoverChildrenKilledAfterExit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	res, _ := run(t, &executor.Request{Script: `sleep 60 & echo $! > child.pid`, Dir: dir})
	if res.State != sluice.AttemptSuccess {
		t.Fatalf("result = %+v", res)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "child.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	waitGone(t, pid)
}

// TestThreadChurnSparesTheTask checks that the thread that starts a task
// lives as long as the task: the kernel sends the parent-death signal when
// that thread ends, not the worker (go.dev/issue/27505), and a goroutine
// that ends with its thread locked ends the thread.
func TestThreadChurnSparesTheTask(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	churned := make(chan struct{})
	go func() {
		defer close(churned)
		for {
			select {
			case <-stop:
				return
			default:
			}
			ended := make(chan struct{})
			go func() {
				runtime.LockOSThread() // never unlocked: the thread ends with it
				close(ended)
			}()
			<-ended
		}
	}()
	res, _ := run(t, &executor.Request{Script: "sleep 0.5"})
	close(stop)
	<-churned
	if res.State != sluice.AttemptSuccess {
		t.Fatalf("result = %+v", res)
	}
}

// TestEscapedChildDoesNotHoldTheAttempt checks that a process that left
// the task's process group (setsid), which the group kill misses, does not
// keep the attempt waiting for the end of the output it still holds.
func TestEscapedChildDoesNotHoldTheAttempt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	res, _ := run(t, &executor.Request{Script: `setsid sh -c 'echo $$ > escaped.pid; exec sleep 60' & while [ ! -s escaped.pid ]; do sleep 0.01; done; echo done`, Dir: dir})
	data, _ := os.ReadFile(filepath.Join(dir, "escaped.pid"))
	if pid, _ := strconv.Atoi(strings.TrimSpace(string(data))); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if res.State != sluice.AttemptSuccess {
		t.Fatalf("result = %+v", res)
	}
}

// TestStdinIsEmpty checks that a task reads nothing from its stdin, even
// many at once (they share one /dev/null).
func TestStdinIsEmpty(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, l := run(t, &executor.Request{Script: `if read -r line; then echo "read $line"; else echo eof; fi`})
			if got := l.all(); res.State != sluice.AttemptSuccess || len(got) != 1 || got[0] != "o eof" {
				t.Errorf("result = %+v, log = %q", res, got)
			}
		}()
	}
	wg.Wait()
}

func TestLongLinesSplit(t *testing.T) {
	t.Parallel()
	res, l := run(t, &executor.Request{Script: `head -c 150000 /dev/zero | tr '\0' x; echo`})
	if res.State != sluice.AttemptSuccess {
		t.Fatalf("result = %+v", res)
	}
	total := 0
	for _, line := range l.all() {
		if len(line)-2 > 64<<10 {
			t.Fatalf("line of %d bytes not split", len(line))
		}
		total += len(line) - 2
	}
	if total != 150000 {
		t.Fatalf("kept %d bytes, want 150000", total)
	}
}

func TestOutputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	script := `echo "path=/data/x.csv" >> "$SLUICE_OUTPUT"
echo "rows=42" >> "$SLUICE_OUTPUT"
printf 'report<<EOF\nline one\nline=two\nEOF\n' >> "$SLUICE_OUTPUT"
echo "rows=43" >> "$SLUICE_OUTPUT"`
	res, _ := run(t, &executor.Request{Script: script, Dir: dir, OutputFile: out, Env: append(os.Environ(), "SLUICE_OUTPUT="+out)})
	if res.State != sluice.AttemptSuccess {
		t.Fatalf("result = %+v", res)
	}
	want := map[string]string{"path": "/data/x.csv", "rows": "43", "report": "line one\nline=two"}
	if len(res.Outputs) != len(want) {
		t.Fatalf("outputs = %q", res.Outputs)
	}
	for k, v := range want {
		if res.Outputs[k] != v {
			t.Errorf("output %s = %q, want %q", k, res.Outputs[k], v)
		}
	}
}

func TestReadOutputsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content, want string
	}{
		{"no equals", "just text\n", `line 1: want key=value`},
		{"bad key", "1x=2\n", `line 1: want key=value`},
		{"unterminated", "a=1\nbody<<END\nx\n", `line 2: "body" has no closing "END" line`},
		{"too large", "big=" + strings.Repeat("x", 101) + "\n", `output "big" is 101 bytes, over the limit of 100`},
		{"too large block", "big<<E\n" + strings.Repeat("x", 101) + "\nE\n", `output "big" is 101 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "out")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := executor.ReadOutputs(path, 100)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	outs, err := executor.ReadOutputs(filepath.Join(t.TempDir(), "missing"), 100)
	if err != nil || outs != nil {
		t.Fatalf("missing file: %v %v", outs, err)
	}
}

func TestOutputErrorFailsAttempt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	res, _ := run(t, &executor.Request{Script: `echo garbage >> "$SLUICE_OUTPUT"`, Dir: dir, OutputFile: out, Env: append(os.Environ(), "SLUICE_OUTPUT="+out)})
	if res.State != sluice.AttemptFailed || !strings.Contains(res.Error, "$SLUICE_OUTPUT line 1") {
		t.Fatalf("result = %+v", res)
	}
}
