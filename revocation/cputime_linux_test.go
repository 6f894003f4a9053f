//go:build linux

package revocation

import "syscall"

// threadCPU returns the CPU time the calling OS thread has used, in
// nanoseconds, or -1 if unknown. Benchmarks lock their thread and report
// CPU time per operation next to wall time, which on a busy shared machine
// counts the time the benchmark was not even running.
func threadCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
