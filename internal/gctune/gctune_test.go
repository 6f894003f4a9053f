package gctune

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, tt := range []struct {
		live uint64
		want int
	}{
		{0, 100},
		{1 << 20, 100},
		{4 << 20, 100},
		{6 << 20, 66},
		{8 << 20, 50},
		{1 << 30, 50},
	} {
		if got := Percent(tt.live); got != tt.want {
			t.Errorf("Percent(%d) = %d, want %d", tt.live, got, tt.want)
		}
	}
}

func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestTunerFollowsLiveHeap: with 32 MiB live, collections lower GOGC to
// 50; once it is garbage, they raise it back to 100.
func TestTunerFollowsLiveHeap(t *testing.T) {
	// Start would do nothing if the test's environment set GOGC.
	tu := &Tuner{current: MaxPercent, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	tu.arm()
	defer tu.Stop()

	live := make([][]byte, 32)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	waitFor(t, func() bool { return gogc() == 50 }, "GOGC 50 with 32 MiB live")
	runtime.KeepAlive(live)
	live = nil
	waitFor(t, func() bool { return gogc() == 100 }, "GOGC 100 once the 32 MiB are garbage")
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
