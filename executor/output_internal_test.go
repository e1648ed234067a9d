package executor

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice"
)

type collected struct {
	mu    sync.Mutex
	lines []string
}

func (c *collected) Line(s Stream, _ time.Time, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, string(s)+" "+string(b))
}

// outputs are the ways this platform follows a process's output.
func outputs(t *testing.T) map[string]func(*exec.Cmd, LogSink) (output, error) {
	outs := map[string]func(*exec.Cmd, LogSink) (output, error){
		"readers": func(cmd *exec.Cmd, sink LogSink) (output, error) { return newReaders(cmd, sink) },
	}
	if polled, _ := newOutput(exec.Command("true"), nil); polled != nil {
		polled.started()
		polled.close()
		if _, ok := polled.(*readers); !ok {
			outs["polled"] = newOutput
		}
	}
	if runtime.GOOS == "linux" && outs["polled"] == nil && os.Getenv("CI") == "true" {
		t.Fatal("this kernel makes no pidfds (Linux 5.3 or later does): only the readers can be tested")
	}
	return outs
}

// TestOutputsAgree runs the same tasks with every way of following their
// output, which must hand the sink the same lines, streams and outcomes.
func TestOutputsAgree(t *testing.T) {
	cases := []struct {
		name, script string
		want         []string
		state        sluice.AttemptState
	}{
		{"both streams", `echo one; echo two >&2; echo three`, []string{"o one", "o three", "e two"}, sluice.AttemptSuccess},
		{"no newline at the end", `printf 'a\n\nb'; printf 'c' >&2`, []string{"o a", "o ", "o b", "e c"}, sluice.AttemptSuccess},
		{"nothing", `true`, nil, sluice.AttemptSuccess},
		{"failure", `echo bad >&2; exit 3`, []string{"e bad"}, sluice.AttemptFailed},
		{"long line", `head -c 70000 /dev/zero | tr '\0' x; echo; echo after`, []string{"o " + strings.Repeat("x", maxLine), "o " + strings.Repeat("x", 70000-maxLine), "o after"}, sluice.AttemptSuccess},
		{"more than a pipe holds", `i=0; while [ $i -lt 3000 ]; do echo "line $i of many to fill the pipe"; i=$((i+1)); done`, nil, sluice.AttemptSuccess},
	}
	for name, newOut := range outputs(t) {
		t.Run(name, func(t *testing.T) {
			fds := openFiles(t)
			defer func() {
				if n := openFiles(t); n != fds {
					t.Errorf("%d files open after the tasks, %d before", n, fds)
				}
			}()
			for _, c := range cases {
				sink := &collected{}
				res := runWith(context.Background(), &Request{Script: c.script, Dir: t.TempDir(), Env: os.Environ(), Log: sink}, newOut)
				if res.State != c.state {
					t.Errorf("%s: result = %+v", c.name, res)
				}
				// The order between the streams is not kept; within one it is.
				got := sink.lines
				slices.SortStableFunc(got, func(a, b string) int { return strings.Compare(a[:1], b[:1]) * -1 })
				if c.name == "more than a pipe holds" {
					if len(got) != 3000 || got[2999] != "o line 2999 of many to fill the pipe" {
						t.Errorf("%s: %d lines, last %q", c.name, len(got), got[len(got)-1])
					}
					continue
				}
				if !slices.Equal(got, c.want) {
					t.Errorf("%s: lines = %.80q, want %.80q", c.name, got, c.want)
				}
			}
		})
	}
}

// openFiles counts the descriptors this process has open.
func openFiles(t *testing.T) int {
	_, _ = devNull() // every task's stdin, opened once
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd here to count open files")
	}
	return len(ents)
}

// TestOutputsLetGoOfEscapedChildren checks that each way of following
// output stops reading a second after the process exits when a child that
// left the process group (setsid) holds the pipes, and keeps what came
// before.
func TestOutputsLetGoOfEscapedChildren(t *testing.T) {
	for name, newOut := range outputs(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			sink := &collected{}
			res := runWith(context.Background(), &Request{Dir: dir, Env: os.Environ(), Log: sink,
				Script: `setsid sh -c 'echo $$ > escaped.pid; exec sleep 60' & while [ ! -s escaped.pid ]; do sleep 0.01; done; echo done`}, newOut)
			data, _ := os.ReadFile(filepath.Join(dir, "escaped.pid"))
			if pid, _ := strconv.Atoi(strings.TrimSpace(string(data))); pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			if res.State != sluice.AttemptSuccess || !slices.Equal(sink.lines, []string{"o done"}) {
				t.Fatalf("result = %+v, lines %q", res, sink.lines)
			}
		})
	}
}

// TestOutputsStop checks that a context that ends stops the process under
// each way of following it.
func TestOutputsStop(t *testing.T) {
	for name, newOut := range outputs(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			res := runWith(ctx, &Request{Script: `echo started; sleep 60`, Dir: t.TempDir(), Env: os.Environ(), Log: &collected{}}, newOut)
			if !res.Stopped || res.State != sluice.AttemptFailed {
				t.Fatalf("result = %+v", res)
			}
		})
	}
}
