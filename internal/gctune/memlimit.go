package gctune

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// MemoryLimitShare is the share of the container's memory limit that
// SetMemoryLimit gives the Go runtime as its soft limit. The rest is left
// for what the runtime does not count: the executable's pages, thread
// stacks outside the heap, bbolt's mapped file.
const MemoryLimitShare = 0.9

// SetMemoryLimit sets the Go runtime's soft memory limit (what GOMEMLIMIT
// sets) to MemoryLimitShare of the memory limit of the process's cgroup,
// so that the collector works harder as the container nears its limit
// instead of the kernel killing it. It does nothing when GOMEMLIMIT is set
// in the environment or no cgroup limit is found, and returns the limit it
// set, or 0.
func SetMemoryLimit() int64 {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return 0
	}
	limit := cgroupMemoryLimit("/sys/fs/cgroup", "/proc/self/cgroup")
	if limit == 0 {
		return 0
	}
	soft := int64(float64(limit) * MemoryLimitShare)
	debug.SetMemoryLimit(soft)
	return soft
}

// cgroupMemoryLimit returns the memory limit of the process's cgroup under
// the cgroup file system mounted at root, or 0 when it has none. With
// cgroup v2 it reads memory.max of the process's own cgroup (named in
// procCgroup) and then of root itself, which is the process's cgroup in a
// container with its own cgroup namespace. With cgroup v1 it reads the
// memory controller's limit_in_bytes, where values near 2^63 mean none.
func cgroupMemoryLimit(root, procCgroup string) uint64 {
	var dirs []string
	if p := cgroupV2Path(procCgroup); p != "" && p != "/" {
		dirs = append(dirs, filepath.Join(root, p))
	}
	dirs = append(dirs, root)
	for _, d := range dirs {
		if v, ok := readLimit(filepath.Join(d, "memory.max")); ok {
			return v
		}
	}
	if v, ok := readLimit(filepath.Join(root, "memory", "memory.limit_in_bytes")); ok && v < 1<<62 {
		return v
	}
	return 0
}

// cgroupV2Path returns the path of the process's cgroup v2 (the "0::"
// line of /proc/self/cgroup), or "".
func cgroupV2Path(procCgroup string) string {
	b, err := os.ReadFile(procCgroup)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p
		}
	}
	return ""
}

// readLimit reads a cgroup limit file: a number of bytes, or "max" for
// none (0, true). ok is false when the file is missing or unreadable.
func readLimit(path string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, true
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}
