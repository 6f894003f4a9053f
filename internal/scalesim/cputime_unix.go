//go:build unix

package scalesim

import "syscall"

// processCPU returns the CPU time this process used so far, in seconds
// (user plus system), or 0 when it cannot tell.
func processCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
