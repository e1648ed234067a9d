package sluicetest

import (
	"bytes"
	"fmt"
	"os"
	"syscall"
)

// Alive reports whether process pid runs. A zombie (exited, not yet
// reaped) counts as gone: an orphan's zombie lasts as long as PID 1 takes
// to reap it, which in some containers is for ever. pid must be positive:
// kill(2) takes 0 and -1 for whole groups of processes.
func Alive(pid int) bool {
	if pid <= 0 {
		panic(fmt.Sprintf("sluicetest.Alive(%d): not a process id", pid))
	}
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc: trust kill
	}
	// "pid (comm) S …": the state follows the last ')', as comm may hold
	// any character.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}
