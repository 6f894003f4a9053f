package gctune

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		live, scan uint64
		want       int
	}{
		{0, 0, 100},
		{1 * mib, 1 * mib, 100},
		{4 * mib, 4 * mib, 100},
		// A heap of pointers (the token cache): half of it as headroom.
		{6 * mib, 6 * mib, 66},
		{8 * mib, 8 * mib, 50},
		{1 << 30, 1 << 30, 50},
		// Pointer-free memory (revocation hashes and records) adds no
		// headroom: only what the collector marks does.
		{64 * mib, 2 * mib, 6},
		{64 * mib, 16 * mib, 25},
		{64 * mib, 40 * mib, 50},
		{100 * mib, 0, 4},
		// GOGC never reaches 0, which would collect without pause.
		{1 << 40, 0, 1},
	} {
		if got := Percent(tt.live, tt.scan); got != tt.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", tt.live, tt.scan, got, tt.want)
		}
	}
}

func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestTunerFollowsLiveHeap: with 32 MiB of pointers live, collections
// lower GOGC to 50; with 32 MiB of pointer-free bytes, to the 4 MiB floor
// (12); once it is all garbage, they raise it back to 100.
func TestTunerFollowsLiveHeap(t *testing.T) {
	// Start would do nothing if the test's environment set GOGC.
	tu := newTuner()
	tu.arm()
	defer tu.Stop()

	type node struct {
		next *node
		_    [8]*int
	}
	var ptrs []*node
	for range (32 << 20) / 80 {
		ptrs = append(ptrs, &node{})
	}
	waitFor(t, func() bool { return gogc() == 50 }, "GOGC 50 with 32 MiB of pointers live")
	runtime.KeepAlive(ptrs)
	ptrs = nil

	bytes := make([][]byte, 32)
	for i := range bytes {
		bytes[i] = make([]byte, 1<<20)
	}
	waitFor(t, func() bool { g := gogc(); return g >= 10 && g <= 13 }, "GOGC about 12 with 32 MiB of bytes live")
	runtime.KeepAlive(bytes)
	bytes = nil
	waitFor(t, func() bool { return gogc() == 100 }, "GOGC 100 once it is all garbage")
}

func TestStartLeavesOperatorsGOGC(t *testing.T) {
	t.Setenv("GOGC", "200")
	if tu := Start(); tu != nil {
		tu.Stop()
		t.Fatal("Start tuned although GOGC is set")
	}
}

// waitFor runs collections until cond holds; the tuner runs after each.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 20 s of collections (GOGC %d)", what, gogc())
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}
