package s3test

import (
	"os/exec"
	"syscall"
)

// setPdeathsig has the kernel kill the server if the test binary dies first.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
