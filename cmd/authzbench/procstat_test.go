package main

import (
	"os"
	"testing"
)

func TestParseStatCPUTicks(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    uint64
		wantErr bool
	}{
		{
			name: "plain",
			stat: "1234 (jwt-authz) S 1 1234 1234 0 -1 4194560 2000 0 0 0 150 25 0 0 20 0 9 0 100 1000000 3000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
			want: 175,
		},
		{
			name: "command with spaces and parentheses",
			stat: "99 (a (b) c) R 1 99 99 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 5 0 0\n",
			want: 10,
		},
		{name: "no command", stat: "1234 S 1 2 3", wantErr: true},
		{name: "too short", stat: "1 (x) S 1 2 3 4 5", wantErr: true},
		{name: "not a number", stat: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 x 3 0 0\n", wantErr: true},
		{name: "empty", stat: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPUTicks([]byte(tt.stat))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStatCPUTicks error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("parseStatCPUTicks = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseStatusMemory(t *testing.T) {
	tests := []struct {
		name             string
		status           string
		wantRSS, wantHWM uint64
		wantErr          bool
	}{
		{
			name:    "both",
			status:  "Name:\tjwt-authz\nVmPeak:\t 1000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t9\n",
			wantRSS: 10240 * 1024, wantHWM: 20480 * 1024,
		},
		{name: "kernel thread has neither", status: "Name:\tkthreadd\nThreads:\t1\n", wantErr: true},
		{name: "unit missing", status: "VmHWM:\t1\nVmRSS:\t1\n", wantErr: true},
		{name: "garbage value", status: "VmHWM:\tx kB\nVmRSS:\t1 kB\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rss, hwm, err := parseStatusMemory([]byte(tt.status))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStatusMemory error = %v, wantErr %v", err, tt.wantErr)
			}
			if rss != tt.wantRSS || hwm != tt.wantHWM {
				t.Fatalf("parseStatusMemory = %d, %d; want %d, %d", rss, hwm, tt.wantRSS, tt.wantHWM)
			}
		})
	}
}

func TestReadProcSelf(t *testing.T) {
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Fatalf("readProc(self): %v", err)
	}
	if s.RSSBytes == 0 || s.HWMBytes < s.RSSBytes {
		t.Fatalf("readProc(self) memory = rss %d hwm %d, want 0 < rss <= hwm", s.RSSBytes, s.HWMBytes)
	}
	if _, err := readProc(0); err == nil {
		t.Fatal("readProc(0) succeeded, want an error")
	}
}

func TestUsageBetween(t *testing.T) {
	before := procSample{CPUTicks: 100, SchedNS: 1e9}
	after := procSample{CPUTicks: 150, SchedNS: 1.5e9, RSSBytes: 10 << 20, HWMBytes: 12 << 20}
	u := usageBetween(42, before, after, 10000)
	want := serverUsage{PID: 42, CPUSeconds: 0.5, CPUSecondsSchedstat: 0.5, ChecksPerCPUSecond: 20000, RSSBytes: 10 << 20, HWMBytes: 12 << 20}
	if u != want {
		t.Fatalf("usageBetween = %+v, want %+v", u, want)
	}
	if idle := usageBetween(1, after, after, 5); idle.ChecksPerCPUSecond != 0 {
		t.Fatalf("no CPU used: ChecksPerCPUSecond = %v, want 0", idle.ChecksPerCPUSecond)
	}
}

func TestParseStatusKB(t *testing.T) {
	status := []byte("VmRSS:\t   20480 kB\nRssAnon:\t    3568 kB\nRssFile:\t   16876 kB\nRssShmem:\t0 kB\nBad:\tx kB\n")
	for name, want := range map[string]uint64{"RssAnon": 3568 << 10, "RssFile": 16876 << 10, "RssShmem": 0, "Bad": 0, "Missing": 0} {
		if got := parseStatusKB(status, name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}
