package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice"
)

// maxLine is the longest log line kept whole; longer lines are split.
const maxLine = 64 << 10

func runProcess(ctx context.Context, r *Request) *Result { return runWith(ctx, r, newOutput) }

// runWith runs the process of r with the output newOut makes.
func runWith(ctx context.Context, r *Request, newOut func(*exec.Cmd, LogSink) (output, error)) *Result {
	var cmd *exec.Cmd
	if r.Script != "" {
		cmd = exec.Command("/bin/sh", "-c", r.Script)
	} else {
		cmd = exec.Command(r.Argv[0], r.Argv[1:]...)
	}
	cmd.Dir = r.Dir
	cmd.Env = r.Env
	// Its own process group, so a timeout or a lost lease kills the task and
	// everything it started, not just the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cmd.Err != nil { // program not found on PATH
		return startFailed(cmd.Err)
	}
	if null, err := devNull(); err == nil { // else exec opens one itself
		cmd.Stdin = null
	}
	out, err := newOut(cmd, r.Log)
	if err != nil {
		return startFailed(err)
	}
	setParentDeathSignal(cmd)
	res := &Result{Started: time.Now()}

	// The parent-death signal fires when the thread that started the
	// process ends, not the process: this goroutine keeps its thread until
	// the process is gone. See go.dev/issue/27505. It starts and waits for
	// the process itself, as exec.Cmd.Run does, and what must stop the
	// process comes as callbacks: handing the start or the wait to another
	// goroutine costs a wake-up of another thread per attempt, on a machine
	// whose cores the task needs.
	runtime.LockOSThread()
	err = cmd.Start()
	out.started()
	if err != nil {
		runtime.UnlockOSThread()
		out.close()
		if r.Dir != "" {
			// exec reports a missing directory as the program missing.
			if fi, serr := os.Stat(r.Dir); serr != nil || !fi.IsDir() {
				return startFailed(fmt.Errorf("workdir %s does not exist on this worker", r.Dir))
			}
		}
		return startFailed(err)
	}

	grace := r.KillGrace
	if grace <= 0 {
		grace = DefaultKillGrace
	}
	pgid := cmd.Process.Pid
	s := &stopper{pgid: pgid, grace: grace}
	if r.Timeout > 0 {
		timer := time.AfterFunc(r.Timeout, func() {
			s.stop(sluice.AttemptTimedOut, fmt.Sprintf("timed out after %s", r.Timeout))
		})
		defer timer.Stop()
	}
	stopOnDone := context.AfterFunc(ctx, func() {
		s.stop(sluice.AttemptFailed, fmt.Sprintf("stopped (%v)", context.Cause(ctx)))
	})
	waitErr := out.follow(cmd, func() {
		runtime.UnlockOSThread()
		stopOnDone()
		res.Finished = time.Now()
		if state, why := s.gone(); state != "" {
			res.State, res.Error = state, why
			res.Stopped = state == sluice.AttemptFailed
		}
		// The task is over: whatever it left behind in its group goes
		// too, so stray children cannot hold the log pipes open or
		// outlive the attempt.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})

	if ps := cmd.ProcessState; ps != nil {
		code := ps.ExitCode()
		if code >= 0 {
			res.ExitCode = &code
		}
	}
	if res.State != "" {
		return res
	}
	if waitErr != nil {
		res.State = sluice.AttemptFailed
		res.Error = describeExit(waitErr)
		return res
	}
	res.State = sluice.AttemptSuccess
	if r.OutputFile != "" {
		max := r.MaxOutput
		if max <= 0 {
			max = DefaultMaxOutput
		}
		outs, err := ReadOutputs(r.OutputFile, max)
		if err != nil {
			res.State = sluice.AttemptFailed
			res.Error = err.Error()
			return res
		}
		res.Outputs = outs
	}
	return res
}

// stopper stops a process group for a timeout or a context that ended:
// SIGTERM, then SIGKILL after grace. The first reason wins; once the
// process is gone nothing more is sent.
type stopper struct {
	pgid  int
	grace time.Duration

	mu     sync.Mutex
	exited bool
	state  sluice.AttemptState // "" unless stopped
	why    string
	killed bool // SIGKILL followed SIGTERM
	kill   *time.Timer
}

func (s *stopper) stop(state sluice.AttemptState, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exited || s.state != "" {
		return
	}
	s.state, s.why = state, why
	_ = syscall.Kill(-s.pgid, syscall.SIGTERM)
	s.kill = time.AfterFunc(s.grace, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.exited {
			_ = syscall.Kill(-s.pgid, syscall.SIGKILL)
			s.killed = true
		}
	})
}

// gone records that the process has exited, and returns the state and
// error of the attempt if the stopper stopped it ("" if not), saying what
// it had to do.
func (s *stopper) gone() (sluice.AttemptState, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exited = true
	if s.kill != nil {
		s.kill.Stop()
	}
	if s.state == "" {
		return "", ""
	}
	how := "sent SIGTERM to its process group"
	if s.killed {
		how += fmt.Sprintf(", then SIGKILL after %s", s.grace)
	}
	return s.state, s.why + ": " + how
}

func describeExit(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("killed by signal %s", ws.Signal())
		}
		return fmt.Sprintf("exited with code %d", ee.ExitCode())
	}
	return err.Error()
}

func startFailed(err error) *Result {
	now := time.Now()
	return &Result{State: sluice.AttemptFailed, Error: "cannot start: " + err.Error(), Started: now, Finished: now}
}
