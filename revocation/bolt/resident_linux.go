package bolt

import "syscall"

// releasePages drops the resident pages of the size bytes mapped at addr
// (madvise MADV_DONTNEED). On a shared file mapping that discards nothing:
// the pages are read back from the page cache, or the file, on next use.
func releasePages(addr uintptr, size int64) error {
	if addr == 0 || size <= 0 {
		return nil
	}
	_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(size), syscall.MADV_DONTNEED)
	if errno != 0 {
		return errno
	}
	return nil
}
