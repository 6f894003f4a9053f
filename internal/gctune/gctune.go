// Package gctune keeps the garbage collector's headroom in proportion to
// what a collection costs.
//
// Go's default (GOGC=100) lets the heap grow to twice its live size before
// collecting. What a collection costs is marking the part of the live heap
// that holds pointers; memory without pointers is not scanned. jwt-authz's
// two large structures differ in exactly that:
//
//   - the verified-token cache holds pointers, so its headroom is kept at
//     half of it once the live heap is past the 4 MiB Go keeps anyway: 100,000
//     cached tokens cost one and a half times their size, not twice, for one
//     more collection every few seconds under a stream of new tokens and
//     none under cache hits;
//   - the revocation index and write-back ledger hold none (hashes, expiries
//     and packed records), so a million revocations add almost nothing to a
//     collection's work and get no headroom of their own: the headroom
//     follows the scannable heap, and every byte allocated still costs no
//     more marking than at GOGC=100 on a heap that is all pointers.
//
// Under a steady stream of requests, the heap of a server with a small cache
// is small (about a megabyte) while gRPC allocates several kilobytes per
// request, so Go's minimum heap of 4 MiB would be collected ten to twenty
// times a second at 8,000 Checks/s. Each collection costs a few
// milliseconds of CPU and, on two cores, holds requests back while it
// marks: most of the latency tail under a steady load. So the headroom is
// also at least what the process allocates in PaceInterval (at most
// MaxPacedHeadroom), which keeps collections to about two a second. The
// rate is sampled every RateWindow and must hold for two windows; when it
// falls away, the headroom goes back and the memory is returned to the
// system at once, so the memory at rest does not change.
//
// An operator's GOGC wins: with GOGC set in the environment, Start does
// nothing.
//
// SetMemoryLimit gives the runtime a soft memory limit of 90 % of the
// container's (cgroup) memory limit, unless GOMEMLIMIT is set, so that the
// collector works harder near the limit instead of the kernel killing the
// process.
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

const (
	// MinHeadroom is the least headroom kept: Go's own minimum heap.
	MinHeadroom = 4 << 20
	// MinPercent and MaxPercent bound the GOGC chosen from the heap;
	// MaxPacedPercent bounds it when the allocation rate sets it.
	MinPercent      = 1
	MaxPercent      = 100
	MaxPacedPercent = 1000
	// PaceInterval: the headroom is at least what is allocated in this
	// long, so a steady allocation rate is collected about twice a second.
	PaceInterval = 500 * time.Millisecond
	// MaxPacedHeadroom bounds the headroom the allocation rate asks for.
	MaxPacedHeadroom = 32 << 20
	// RateWindow is how often the allocation rate is sampled.
	RateWindow = 500 * time.Millisecond
)

// Percent returns the GOGC for a live heap of live bytes, scan of which
// the collector must mark (pointer-holding heap, stacks and globals),
// while the process allocates rate bytes a second.
//
// The headroom is max(MinHeadroom, min(live/2, scan)), with GOGC within
// [MinPercent, MaxPercent]; or, when more, what rate allocates in
// PaceInterval (at most MaxPacedHeadroom), with the smallest GOGC whose
// heap goal reaches it (Go's goal is max(live×(1+GOGC/100), 4 MiB×GOGC/100))
// within [MinPercent, MaxPacedPercent].
func Percent(live, scan, rate uint64) int {
	p, _ := percent(live, scan, rate)
	return p
}

// percent is Percent, and whether the allocation rate set it.
func percent(live, scan, rate uint64) (int, bool) {
	base := max(MinHeadroom, min(live/2, scan))
	paced := min(rate/uint64(time.Second/PaceInterval), MaxPacedHeadroom)
	if paced <= base {
		if live == 0 {
			return MaxPercent, false
		}
		return clamp(base*100/live, MaxPercent), false
	}
	p := ceilDiv((live+paced)*100, MinHeadroom)
	if live > 0 {
		p = min(p, ceilDiv(paced*100, live))
	}
	return clamp(p, MaxPacedPercent), true
}

func clamp(p uint64, most int) int { return int(min(max(p, MinPercent), uint64(most))) }

func ceilDiv(a, b uint64) uint64 { return (a + b - 1) / b }

// Tuner retunes GOGC after every garbage collection and every RateWindow.
type Tuner struct {
	mu      sync.Mutex
	stopped bool
	current int
	paced   bool // current was raised for the allocation rate
	sample  []metrics.Sample

	// The allocation rate: the lower of the last two windows, so that a
	// burst shorter than a window does not raise the headroom.
	rate       uint64
	lastRate   uint64
	lastAllocs uint64
	lastAt     time.Time

	done chan struct{}
	wg   sync.WaitGroup
}

// sentinel is collected by every cycle that finds it unreachable, which
// tells the tuner a cycle finished. It is too large for the tiny allocator,
// which could keep it alive alongside a neighbour.
type sentinel struct {
	_ [2]*int
}

// Start begins tuning and returns the Tuner, or nil when GOGC is set in
// the environment. Tuning stops with Stop.
func Start() *Tuner {
	if _, set := os.LookupEnv("GOGC"); set {
		return nil
	}
	t := newTuner()
	t.arm()
	t.wg.Go(func() { t.sampleRate(RateWindow) })
	return t
}

func newTuner() *Tuner {
	t := &Tuner{current: MaxPercent, done: make(chan struct{}), sample: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/total:bytes"},
		{Name: "/gc/heap/allocs:bytes"},
	}}
	metrics.Read(t.sample)
	t.lastAllocs, t.lastAt = uint64Of(t.sample[2]), time.Now()
	return t
}

// Stop ends tuning and restores GOGC=100. It is safe on a nil Tuner.
func (t *Tuner) Stop() {
	if t == nil {
		return
	}
	t.mu.Lock()
	if t.stopped {
		t.mu.Unlock()
		return
	}
	t.stopped = true
	close(t.done)
	t.mu.Unlock()
	t.wg.Wait()
	debug.SetGCPercent(MaxPercent)
}

func (t *Tuner) arm() {
	runtime.AddCleanup(&sentinel{}, func(t *Tuner) { t.cycle() }, t)
}

// cycle runs on the cleanup goroutine after a collection.
func (t *Tuner) cycle() {
	if t.retune(false) {
		t.arm()
	}
}

// sampleRate measures the allocation rate every window until Stop.
func (t *Tuner) sampleRate(window time.Duration) {
	tick := time.NewTicker(window)
	defer tick.Stop()
	for {
		select {
		case <-t.done:
			return
		case <-tick.C:
			t.retune(true)
		}
	}
}

// retune sets GOGC from the heap and the allocation rate, after taking a
// new rate sample if sampleRate. When the rate stopped asking for
// headroom, the heap it grew into is collected and returned to the
// system. It reports false once the Tuner is stopped.
func (t *Tuner) retune(sampleRate bool) bool {
	t.mu.Lock()
	if t.stopped {
		t.mu.Unlock()
		return false
	}
	metrics.Read(t.sample)
	if sampleRate {
		now, allocs := time.Now(), uint64Of(t.sample[2])
		if dt := now.Sub(t.lastAt); dt > 0 && allocs >= t.lastAllocs {
			r := uint64(float64(allocs-t.lastAllocs) / dt.Seconds())
			t.rate, t.lastRate = min(r, t.lastRate), r
		}
		t.lastAllocs, t.lastAt = allocs, now
	}
	p, paced := percent(uint64Of(t.sample[0]), uint64Of(t.sample[1]), t.rate)
	release := t.paced && !paced
	t.paced = paced
	if p != t.current {
		t.current = p
		debug.SetGCPercent(p)
	}
	t.mu.Unlock()
	if release {
		debug.FreeOSMemory()
	}
	return true
}

func uint64Of(s metrics.Sample) uint64 {
	if s.Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s.Value.Uint64()
}
