package executor

import (
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// newOutput follows the process with poll(2) where the kernel has pidfds
// (Linux 5.3 and later), and with readers elsewhere.
func newOutput(cmd *exec.Cmd, sink LogSink) (output, error) {
	if !pidfdWorks() {
		return newReaders(cmd, sink)
	}
	return newPoller(cmd, sink)
}

// pidfdWorks reports whether this kernel makes pidfds, which poll(2)
// reports readable when their process exits.
var pidfdWorks = sync.OnceValue(func() bool {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
})

// poller follows a process in the thread that started it, with one
// poll(2) on the process's pidfd and the read ends of its two pipes, which
// stay out of the runtime's poller.
//
// Our own rather than exec.Cmd.Wait and a goroutine per pipe (readers):
// there, the end of a process readies two goroutines through the
// runtime's poller besides the one that waits, and on a 2-core machine
// the threads woken for them compete with the tasks for the cores. In
// isolation `sh -c true` with readers cost 0.25 ms more than a bare
// fork/exec (2.2 ms); with poll(2) nothing measurable. In a chain of shell
// tasks it pays only with the worker's completion written on the same
// goroutine (completer.add): together they took `sluice bench
// shell-chain` from 1.28x to 1.22x its baseline (medians of 12
// interleaved runs), either alone from 1.28x to 1.28x and 1.32x.
type poller struct {
	pidfd int
	fd    [2]int      // read ends of stdout and stderr, -1 once closed
	w     [2]*os.File // the child's ends, until started
	lines [2]LineWriter
	buf   *[pollRead]byte
}

// pollRead is the most a read takes from a pipe: as much as a pipe holds
// by default.
const pollRead = 64 << 10

var pollBufs = sync.Pool{New: func() any { return new([pollRead]byte) }}

func newPoller(cmd *exec.Cmd, sink LogSink) (*poller, error) {
	o := &poller{pidfd: -1, fd: [2]int{-1, -1}}
	for i, stream := range []Stream{Stdout, Stderr} {
		var p [2]int
		if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
			o.started()
			o.close()
			return nil, os.NewSyscallError("pipe2", err)
		}
		// The read end only: the child's end stays blocking, as programs
		// expect of their stdout.
		if err := syscall.SetNonblock(p[0], true); err != nil {
			syscall.Close(p[0])
			syscall.Close(p[1])
			o.started()
			o.close()
			return nil, os.NewSyscallError("fcntl", err)
		}
		o.fd[i], o.w[i] = p[0], os.NewFile(uintptr(p[1]), "|1")
		o.lines[i] = LineWriter{Stream: stream, Sink: sink}
	}
	cmd.Stdout, cmd.Stderr = o.w[0], o.w[1]
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.PidFD = &o.pidfd
	return o, nil
}

func (o *poller) started() {
	for i, w := range o.w {
		if w != nil {
			w.Close()
			o.w[i] = nil
		}
	}
}

func (o *poller) close() {
	for i := range o.fd {
		o.end(i)
	}
	if o.pidfd >= 0 {
		syscall.Close(o.pidfd)
		o.pidfd = -1
	}
	if o.buf != nil {
		pollBufs.Put(o.buf)
		o.buf = nil
	}
}

func (o *poller) follow(cmd *exec.Cmd, exited func()) error {
	defer o.close()
	if o.pidfd < 0 { // the kernel made none after all
		r := &readers{sink: o.lines[0].Sink}
		for i, fd := range o.fd {
			r.r[i] = os.NewFile(uintptr(fd), "|0") // non-blocking: in the runtime's poller
			o.fd[i] = -1
		}
		return r.follow(cmd, exited)
	}
	var (
		waitErr  error
		gone     bool
		deadline time.Time
		fds      [3]unix.PollFd
	)
	for {
		n := 0
		for _, fd := range o.fd {
			if fd >= 0 {
				fds[n] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
				n++
			}
		}
		if !gone {
			fds[n] = unix.PollFd{Fd: int32(o.pidfd), Events: unix.POLLIN}
			n++
		}
		if n == 0 {
			return waitErr
		}
		timeout := -1
		if gone {
			left := time.Until(deadline)
			if left <= 0 {
				// A process that left the group (setsid) still holds a
				// pipe.
				return waitErr
			}
			timeout = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		if _, err := unix.Poll(fds[:n], timeout); err != nil {
			if err == unix.EINTR {
				continue
			}
			// Not for valid descriptors: give up on the output, not on
			// the process.
			if !gone {
				waitErr = cmd.Wait()
				exited()
			}
			return waitErr
		}
		for _, f := range fds[:n] {
			switch {
			case f.Revents == 0:
			case int(f.Fd) == o.pidfd:
				gone = true
				waitErr = cmd.Wait() // reaps it at once
				exited()
				deadline = time.Now().Add(lateOutput)
			case int(f.Fd) == o.fd[0]:
				o.read(0)
			default:
				o.read(1)
			}
		}
	}
}

// read hands the sink what pipe i holds now, and ends it at its end.
func (o *poller) read(i int) {
	if o.buf == nil {
		o.buf = pollBufs.Get().(*[pollRead]byte)
	}
	n, err := syscall.Read(o.fd[i], o.buf[:])
	switch {
	case n > 0:
		o.lines[i].Write(o.buf[:n])
	case err == syscall.EAGAIN || err == syscall.EINTR:
	default: // the end, or a pipe that cannot be read
		o.end(i)
	}
}

// end closes pipe i and hands over its last line without a newline.
func (o *poller) end(i int) {
	if o.fd[i] < 0 {
		return
	}
	syscall.Close(o.fd[i])
	o.fd[i] = -1
	o.lines[i].Close()
}
