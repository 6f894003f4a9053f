package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// userHZ is the unit of utime and stime in /proc/PID/stat. The kernel
// reports them in USER_HZ, which is 100 on every architecture Go supports on
// Linux whatever the kernel's internal tick rate (CONFIG_HZ).
const userHZ = 100

// procSample is one reading of a process's CPU time and memory.
type procSample struct {
	// CPUTicks is utime+stime from /proc/PID/stat, in 1/userHZ seconds. It
	// covers every thread, including exited ones.
	CPUTicks uint64
	// SchedNS is the sum of the on-CPU nanoseconds of the process's live
	// threads (/proc/PID/task/*/schedstat): finer grained than CPUTicks, but
	// blind to threads that exited. 0 when unavailable.
	SchedNS uint64
	// RSSBytes and HWMBytes are VmRSS and VmHWM (peak RSS) from
	// /proc/PID/status.
	RSSBytes uint64
	HWMBytes uint64
	// AnonBytes and FileBytes split RSSBytes: RssAnon (heap, stacks) and
	// RssFile (pages of mapped files: the executable, a bbolt database),
	// which stay in the page cache when the process lets them go. 0 when
	// the kernel does not report them.
	AnonBytes uint64
	FileBytes uint64
}

// readProc samples process pid.
func readProc(pid int) (procSample, error) {
	if pid <= 0 {
		return procSample{}, fmt.Errorf("read /proc: invalid pid %d", pid)
	}
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return procSample{}, fmt.Errorf("read cpu time of pid %d: %w", pid, err)
	}
	ticks, err := parseStatCPUTicks(stat)
	if err != nil {
		return procSample{}, fmt.Errorf("read cpu time of pid %d: %w", pid, err)
	}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return procSample{}, fmt.Errorf("read memory of pid %d: %w", pid, err)
	}
	rss, hwm, err := parseStatusMemory(status)
	if err != nil {
		return procSample{}, fmt.Errorf("read memory of pid %d: %w", pid, err)
	}
	anon, file := parseStatusKB(status, "RssAnon"), parseStatusKB(status, "RssFile")
	return procSample{CPUTicks: ticks, SchedNS: readSchedNS(dir), RSSBytes: rss, HWMBytes: hwm, AnonBytes: anon, FileBytes: file}, nil
}

// parseStatCPUTicks returns utime+stime (fields 14 and 15) of a
// /proc/PID/stat line. The command name (field 2) is parenthesised and may
// contain spaces and parentheses, so fields are counted after the last ')'.
func parseStatCPUTicks(stat []byte) (uint64, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errors.New("parse /proc stat: no command name")
	}
	fields := bytes.Fields(stat[end+1:])
	// fields[0] is field 3 (state), so field N is fields[N-3].
	const utimeIdx, stimeIdx = 14 - 3, 15 - 3
	if len(fields) <= stimeIdx {
		return 0, fmt.Errorf("parse /proc stat: %d fields after the command name, want more than %d", len(fields), stimeIdx)
	}
	utime, err := strconv.ParseUint(string(fields[utimeIdx]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse /proc stat utime: %w", err)
	}
	stime, err := strconv.ParseUint(string(fields[stimeIdx]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse /proc stat stime: %w", err)
	}
	return utime + stime, nil
}

// parseStatusMemory returns VmRSS and VmHWM of a /proc/PID/status file, in
// bytes.
func parseStatusMemory(status []byte) (rss, hwm uint64, err error) {
	var haveRSS, haveHWM bool
	for line := range bytes.Lines(status) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *uint64
		switch string(name) {
		case "VmRSS":
			dst, haveRSS = &rss, true
		case "VmHWM":
			dst, haveHWM = &hwm, true
		default:
			continue
		}
		f := bytes.Fields(value)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, 0, fmt.Errorf("parse /proc status %s: unexpected value %q", name, bytes.TrimSpace(value))
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse /proc status %s: %w", name, err)
		}
		*dst = kb * 1024
	}
	if !haveRSS || !haveHWM {
		return 0, 0, errors.New("parse /proc status: VmRSS or VmHWM missing (kernel thread or zombie?)")
	}
	return rss, hwm, nil
}

// parseStatusKB returns the "name: N kB" line of a /proc/PID/status file
// in bytes, or 0 when it is missing or malformed.
func parseStatusKB(status []byte, name string) uint64 {
	for line := range bytes.Lines(status) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || string(k) != name {
			continue
		}
		f := bytes.Fields(v)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0
		}
		return kb * 1024
	}
	return 0
}

// readSchedNS sums the first field (on-CPU nanoseconds) of every thread's
// schedstat under dir/task, or returns 0 when any is unreadable: a partial
// sum would silently under-count.
func readSchedNS(dir string) uint64 {
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	if err != nil {
		return 0
	}
	var sum uint64
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, "task", task.Name(), "schedstat"))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // the thread exited between ReadDir and ReadFile
			}
			return 0
		}
		f := bytes.Fields(b)
		if len(f) < 1 {
			return 0
		}
		ns, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0
		}
		sum += ns
	}
	return sum
}

// serverUsage is what a server process spent during one measured window.
type serverUsage struct {
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUSecondsSchedstat is the same window measured from the threads'
	// schedstat, a finer-grained cross-check (0 when unavailable).
	CPUSecondsSchedstat float64 `json:"cpu_seconds_schedstat,omitempty"`
	// ChecksPerCPUSecond is completed Checks divided by CPUSeconds (0 when
	// the window used no measurable CPU time).
	ChecksPerCPUSecond float64 `json:"checks_per_cpu_second"`
	RSSBytes           uint64  `json:"rss_bytes"`
	HWMBytes           uint64  `json:"hwm_bytes"`
	AnonBytes          uint64  `json:"rss_anon_bytes,omitempty"`
	FileBytes          uint64  `json:"rss_file_bytes,omitempty"`
}

// usageBetween turns two samples around a window in which requests Checks
// completed into a serverUsage.
func usageBetween(pid int, before, after procSample, requests int64) serverUsage {
	u := serverUsage{PID: pid, RSSBytes: after.RSSBytes, HWMBytes: after.HWMBytes, AnonBytes: after.AnonBytes, FileBytes: after.FileBytes}
	if after.CPUTicks >= before.CPUTicks {
		u.CPUSeconds = float64(after.CPUTicks-before.CPUTicks) / userHZ
	}
	if before.SchedNS > 0 && after.SchedNS >= before.SchedNS {
		u.CPUSecondsSchedstat = float64(after.SchedNS-before.SchedNS) / 1e9
	}
	if u.CPUSeconds > 0 {
		u.ChecksPerCPUSecond = float64(requests) / u.CPUSeconds
	}
	return u
}
