//go:build !linux

package executor

import "os/exec"

func newOutput(cmd *exec.Cmd, sink LogSink) (output, error) { return newReaders(cmd, sink) }
