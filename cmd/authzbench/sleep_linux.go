package main

import (
	"syscall"
	"time"
)

// preciseSleep sleeps for d in the kernel, on the calling thread.
func preciseSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
