//go:build !linux

package executor

import "os"

// logPipe returns a pipe for a task's stdout or stderr.
func logPipe() (r, w *os.File, err error) { return os.Pipe() }
