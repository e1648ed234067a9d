// Package executor runs one attempt of a task: a shell script, an argv or
// nothing at all. It knows nothing of leases or storage; the worker gives it
// a context that ends when the attempt must stop, a sink for log lines and a
// file for outputs, and records what comes back.
package executor

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice"
)

// Stream says where a log line came from.
type Stream byte

// The streams.
const (
	Stdout Stream = 'o'
	Stderr Stream = 'e'
	System Stream = 's' // lines sluice itself writes into the task log
)

// LogSink receives a task's output one line at a time, without the newline.
// The executor calls it from several goroutines; the sink must copy line if
// it keeps it.
type LogSink interface {
	Line(stream Stream, at time.Time, line []byte)
}

// Request is one attempt to run.
type Request struct {
	// Script runs under /bin/sh -c when set; otherwise Argv runs directly.
	// With neither, the attempt is a no-op that succeeds.
	Script string
	Argv   []string
	// Dir is the working directory; it must exist.
	Dir string
	// Env is the complete environment of the process.
	Env []string
	// Timeout ends the attempt as timed out; 0 means no timeout.
	Timeout time.Duration
	// KillGrace is how long a process has between SIGTERM and SIGKILL;
	// default 10s.
	KillGrace time.Duration
	// OutputFile is the path given to the task as $SLUICE_OUTPUT; it is read
	// after the process exits. Empty means no outputs.
	OutputFile string
	// MaxOutput bounds the size of one output value; default 64 KiB.
	MaxOutput int
	Log       LogSink
}

// Result is what an attempt came to.
type Result struct {
	// State is AttemptSuccess, AttemptFailed or AttemptTimedOut. When the
	// context ended the attempt, State is AttemptFailed and Stopped is true.
	State    sluice.AttemptState
	ExitCode *int
	// Error says why the attempt did not succeed.
	Error   string
	Stopped bool
	Outputs map[string]string
	// RetryAt is when an AttemptRescheduled attempt's task is checked again.
	RetryAt time.Time
	// Started and Finished bound the process's life.
	Started, Finished time.Time
}

// DefaultKillGrace is the default time between SIGTERM and SIGKILL.
const DefaultKillGrace = 10 * time.Second

// DefaultMaxOutput is the default size limit of one output value.
const DefaultMaxOutput = 64 << 10

// ExitText describes the exit code of a container, as an attempt's
// error: codes 129–159 are a signal's (128+n), as shells and container
// runtimes report them.
func ExitText(code int64) string {
	if code > 128 && code < 160 {
		return fmt.Sprintf("exited with code %d (killed by signal %d)", code, code-128)
	}
	return fmt.Sprintf("exited with code %d", code)
}

// Run runs the attempt and returns its result. It returns when the process
// and everything it left in its process group are gone.
func Run(ctx context.Context, r *Request) *Result {
	if r.Script == "" && len(r.Argv) == 0 {
		now := time.Now()
		return &Result{State: sluice.AttemptSuccess, Started: now, Finished: now}
	}
	return runProcess(ctx, r)
}
