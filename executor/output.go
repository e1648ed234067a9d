package executor

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// output carries a task's stdout and stderr to its LogSink, one line at a
// time, and waits for the task's process.
type output interface {
	// started is called once cmd.Start returned: the child's ends of the
	// pipes are closed in this process.
	started()
	// close releases what output holds when the process did not start.
	close()
	// follow waits for the process while it hands the sink its lines,
	// calls exited once the process is reaped, and returns what
	// cmd.Wait returned once the pipes are at their end, or a second
	// after exited if something the process left behind still holds
	// them. It runs in the goroutine that started the process.
	follow(cmd *exec.Cmd, exited func()) error
}

// lateOutput is how long output is read after the process exited, for
// what a child that left its process group (setsid) still writes.
const lateOutput = time.Second

// readers is the output every platform has: a goroutine reads each pipe
// while the goroutine that started the process waits for it.
type readers struct {
	sink LogSink
	r, w [2]*os.File // stdout, stderr
}

func newReaders(cmd *exec.Cmd, sink LogSink) (*readers, error) {
	o := &readers{sink: sink}
	for i := range o.r {
		r, w, err := logPipe()
		if err != nil {
			o.started()
			o.close()
			return nil, err
		}
		o.r[i], o.w[i] = r, w
	}
	cmd.Stdout, cmd.Stderr = o.w[0], o.w[1]
	return o, nil
}

func (o *readers) started() {
	for _, w := range o.w {
		if w != nil {
			w.Close()
		}
	}
}

func (o *readers) close() {
	for _, r := range o.r {
		if r != nil {
			r.Close()
		}
	}
}

func (o *readers) follow(cmd *exec.Cmd, exited func()) error {
	drained := make(chan struct{}, 2)
	go readLines(drained, o.r[0], Stdout, o.sink)
	go readLines(drained, o.r[1], Stderr, o.sink)
	err := cmd.Wait()
	exited()
	late := time.NewTimer(lateOutput)
	for n := 0; n < 2; {
		select {
		case <-drained:
			n++
		case <-late.C:
			// A process that left the group (setsid) still holds a pipe.
			o.close()
		}
	}
	late.Stop()
	o.close()
	return err
}

// lineReaders keeps the readers of finished attempts, each with its buffer
// of maxLine bytes: allocating and clearing two such buffers an attempt
// was most of what reading the output of a short task cost.
var lineReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, maxLine) }}

// readLines hands the lines of f to sink until f ends, then sends on done.
func readLines(done chan<- struct{}, f io.Reader, stream Stream, sink LogSink) {
	br := lineReaders.Get().(*bufio.Reader)
	br.Reset(f)
	defer func() {
		br.Reset(nil) // nothing of the attempt stays reachable from the pool
		lineReaders.Put(br)
		done <- struct{}{}
	}()
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
