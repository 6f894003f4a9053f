//go:build !unix

package proctune

import "time"

// cpuTime reports that the process's CPU time is not read here, which
// leaves GOMAXPROCS to the runtime.
func cpuTime() (time.Duration, bool) { return 0, false }
