package main

import (
	"syscall"
	"time"
)

// setTimerSlack sets the calling thread's timer slack (PR_SET_TIMERSLACK),
// the delay the kernel may add to its sleeps to batch wake-ups (50µs by
// default), and returns a function restoring the previous value. Failure
// only costs precision, so it is ignored.
func setTimerSlack(d time.Duration) (restore func()) {
	const prSetTimerSlack, prGetTimerSlack = 29, 30
	old, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prGetTimerSlack, 0, 0)
	if errno != 0 {
		return func() {}
	}
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, uintptr(d.Nanoseconds()), 0)
	return func() { _, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, old, 0) }
}
