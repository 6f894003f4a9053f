//go:build !linux

package revocation

// threadCPU is unknown outside Linux.
func threadCPU() int64 { return -1 }
