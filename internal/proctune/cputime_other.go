//go:build !unix

package proctune

import "time"

// CPUTime reports that the process's CPU time is not read here, which
// leaves GOMAXPROCS to the runtime.
func CPUTime() (time.Duration, bool) { return 0, false }
