package executor

import (
	"os"
	"syscall"
)

// logPipe returns a pipe for a task's stdout or stderr. The read end is in
// the runtime's poller, so that closing it ends a read blocked on it; the
// write end, the child's, is a plain blocking descriptor. os.Pipe would put
// both ends in the poller, and exec would then make the child's end
// blocking again: four more system calls per pipe.
func logPipe() (r, w *os.File, err error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return nil, nil, os.NewSyscallError("pipe2", err)
	}
	if err := syscall.SetNonblock(p[0], true); err != nil {
		syscall.Close(p[0])
		syscall.Close(p[1])
		return nil, nil, os.NewSyscallError("fcntl", err)
	}
	return os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|1"), nil
}
