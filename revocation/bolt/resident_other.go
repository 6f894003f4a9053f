//go:build !linux

package bolt

// releasePages does nothing outside Linux.
func releasePages(uintptr, int64) error { return nil }
