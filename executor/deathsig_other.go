//go:build !linux

package executor

import "os/exec"

// setParentDeathSignal does nothing where the kernel has no parent-death
// signal: tasks of a dead worker run on until they end.
func setParentDeathSignal(*exec.Cmd) {}
