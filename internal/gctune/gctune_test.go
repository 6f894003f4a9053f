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
		live, scan, rate uint64
		want             int
	}{
		{0, 0, 0, 100},
		{1 * mib, 1 * mib, 0, 100},
		{4 * mib, 4 * mib, 0, 100},
		// A heap of pointers (the token cache): half of it as headroom.
		{6 * mib, 6 * mib, 0, 66},
		{8 * mib, 8 * mib, 0, 50},
		{1 << 30, 1 << 30, 0, 50},
		// Pointer-free memory (revocation hashes and records) adds no
		// headroom: only what the collector marks does.
		{64 * mib, 2 * mib, 0, 6},
		{64 * mib, 16 * mib, 0, 25},
		{64 * mib, 40 * mib, 0, 50},
		{100 * mib, 0, 0, 4},
		// GOGC never reaches 0, which would collect without pause.
		{1 << 40, 0, 0, 1},
		// An allocation rate that the heap's headroom already covers
		// changes nothing.
		{1 * mib, 1 * mib, 8 * mib, 100},
		{24 * mib, 24 * mib, 20 * mib, 50},
		// A small heap under a steady 60 MB/s: half a second of it,
		// 30 MB, through Go's minimum heap (4 MiB × GOGC/100).
		{1 * mib, 1 * mib, 60_000_000, 741},
		{0, 0, 60_000_000, 716},
		// At most 32 MiB, however fast.
		{0, 0, 1 << 40, 800},
		// A large heap: GOGC from the live heap, goal 64 × 1.32 MiB.
		{64 * mib, 2 * mib, 40 * mib, 32},
	} {
		if got := Percent(tt.live, tt.scan, tt.rate); got != tt.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", tt.live, tt.scan, tt.rate, got, tt.want)
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

// TestTunerFollowsAllocationRate: a steady stream of garbage raises GOGC
// above 100 for a small heap; when it stops, GOGC goes back to 100.
func TestTunerFollowsAllocationRate(t *testing.T) {
	tu := newTuner()
	tu.arm()
	tu.wg.Go(func() { tu.sampleRate(20 * time.Millisecond) })
	defer tu.Stop()

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var keep []byte
		for {
			select {
			case <-stop:
				runtime.KeepAlive(keep)
				return
			default:
			}
			// About 100 MB/s of garbage.
			for range 16 {
				keep = make([]byte, 64<<10)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	waitGOGC(t, func(g uint64) bool { return g > 200 }, "GOGC above 200 under a steady allocation rate")
	close(stop)
	<-done
	waitGOGC(t, func(g uint64) bool { return g == 100 }, "GOGC 100 once allocation stopped")
}

// waitGOGC polls GOGC, which the tuner's rate samples change, until cond
// holds.
func waitGOGC(t *testing.T, cond func(uint64) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond(gogc()) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 20 s (GOGC %d)", what, gogc())
		}
		time.Sleep(5 * time.Millisecond)
	}
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
