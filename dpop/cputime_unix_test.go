//go:build unix

package dpop

import (
	"syscall"
	"time"
)

// processCPU is the user and system CPU time the test process has used,
// for benchmarks that report proofs per CPU-second.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
