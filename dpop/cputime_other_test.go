//go:build !unix

package dpop

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
