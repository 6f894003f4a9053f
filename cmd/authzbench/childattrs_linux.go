package main

import (
	"os/exec"
	"syscall"
)

// setChildAttrs makes a started server receive SIGTERM if authzbench dies,
// so that no server outlives a killed benchmark.
func setChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
