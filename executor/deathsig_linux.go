package executor

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill a task's process when its worker
// dies without cleaning up (SIGKILL, OOM), so a dead worker leaves no task
// running on beside the retry that replaces it.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
