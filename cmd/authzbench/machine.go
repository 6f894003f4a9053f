package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machineInfo describes where a suite ran.
type machineInfo struct {
	CPUs          int    `json:"cpus"`
	CPUModel      string `json:"cpu_model"`
	Kernel        string `json:"kernel"`
	MemTotal      string `json:"mem_total"`
	GoVersion     string `json:"go_version"` // of authzbench and the floor
	ServerVersion string `json:"server_version,omitempty"`
}

// describeMachine reads the CPU count and model, kernel and memory from
// /proc, and asks the server binary for its version ("<argv0> version", as
// jwt-authz has), leaving out what it cannot find.
func describeMachine(ctx context.Context, serverArgv0 string) machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	m.MemTotal = procField("/proc/meminfo", "MemTotal")
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if serverArgv0 != "" {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, serverArgv0, "version").Output(); err == nil {
			m.ServerVersion = strings.Join(strings.Fields(string(out)), " ")
		}
	}
	return m
}

// procField returns the value of the first "name : value" line of a /proc
// file, or "".
func procField(path, name string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
