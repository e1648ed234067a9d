package executor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
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

func runProcess(ctx context.Context, r *Request) *Result {
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
	if r.Dir != "" {
		// exec reports a missing directory as the program missing.
		if fi, err := os.Stat(r.Dir); err != nil || !fi.IsDir() {
			return startFailed(fmt.Errorf("workdir %s does not exist on this worker", r.Dir))
		}
	}

	outR, outW, err := os.Pipe()
	if err != nil {
		return startFailed(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return startFailed(err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	setParentDeathSignal(cmd)
	res := &Result{Started: time.Now()}
	started := make(chan error, 1)
	waited := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that started the
		// process ends, not the process: keep this goroutine on its thread
		// until the child is gone. See go.dev/issue/27505.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			waited <- cmd.Wait()
		}
	}()
	err = <-started
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return startFailed(err)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go readLines(&readers, outR, Stdout, r.Log)
	go readLines(&readers, errR, Stderr, r.Log)

	var timeout <-chan time.Time
	if r.Timeout > 0 {
		timer := time.NewTimer(r.Timeout)
		defer timer.Stop()
		timeout = timer.C
	}
	grace := r.KillGrace
	if grace <= 0 {
		grace = DefaultKillGrace
	}
	pgid := cmd.Process.Pid
	var waitErr error
	select {
	case waitErr = <-waited:
	case <-timeout:
		how := stopGroup(pgid, grace, waited, &waitErr)
		res.State = sluice.AttemptTimedOut
		res.Error = fmt.Sprintf("timed out after %s: %s", r.Timeout, how)
	case <-ctx.Done():
		how := stopGroup(pgid, grace, waited, &waitErr)
		res.State = sluice.AttemptFailed
		res.Stopped = true
		res.Error = fmt.Sprintf("stopped (%v): %s", context.Cause(ctx), how)
	}
	res.Finished = time.Now()
	// The task is over: whatever it left behind in its group goes too, so
	// stray children cannot hold the log pipes open or outlive the attempt.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	drained := make(chan struct{})
	go func() { readers.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(time.Second):
		// A process that left the group (setsid) still holds a pipe.
		outR.Close()
		errR.Close()
		<-drained
	}
	outR.Close()
	errR.Close()

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

// stopGroup sends SIGTERM to the process group, then SIGKILL after grace,
// and waits for the process. It says what it had to do.
func stopGroup(pgid int, grace time.Duration, waited <-chan error, waitErr *error) string {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case *waitErr = <-waited:
		return "sent SIGTERM to its process group"
	case <-timer.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		*waitErr = <-waited
		return fmt.Sprintf("sent SIGTERM to its process group, then SIGKILL after %s", grace)
	}
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

func readLines(wg *sync.WaitGroup, f io.Reader, stream Stream, sink LogSink) {
	defer wg.Done()
	br := bufio.NewReaderSize(f, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if line[len(line)-1] == '\n' {
				line = line[:len(line)-1]
			}
			if sink != nil {
				sink.Line(stream, time.Now(), line)
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}
