package redistest

import "syscall"

// sysProcAttr puts redis-server in its own process group, so that the whole
// group can be signalled, and kills it if the test binary dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
