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
	"sync/atomic"
)

const (
	// MinHeadroom is the least headroom kept: Go's own minimum heap.
	MinHeadroom = 4 << 20
	// MinPercent and MaxPercent bound the GOGC chosen.
	MinPercent = 1
	MaxPercent = 100
)

// Percent returns the GOGC that gives a live heap of live bytes, scan of
// which the collector must mark (pointer-holding heap, stacks and
// globals), a headroom of max(MinHeadroom, min(live/2, scan)), within
// [MinPercent, MaxPercent].
func Percent(live, scan uint64) int {
	if live == 0 {
		return MaxPercent
	}
	headroom := max(MinHeadroom, min(live/2, scan))
	p := headroom * 100 / live
	return int(min(max(p, MinPercent), MaxPercent))
}

// Tuner retunes GOGC after every garbage collection.
type Tuner struct {
	stopped atomic.Bool
	current int
	sample  []metrics.Sample
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
	return t
}

func newTuner() *Tuner {
	return &Tuner{current: MaxPercent, sample: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/total:bytes"},
	}}
}

// Stop ends tuning and restores GOGC=100. It is safe on a nil Tuner.
func (t *Tuner) Stop() {
	if t == nil || t.stopped.Swap(true) {
		return
	}
	debug.SetGCPercent(MaxPercent)
}

func (t *Tuner) arm() {
	runtime.AddCleanup(&sentinel{}, func(t *Tuner) { t.cycle() }, t)
}

// cycle runs on the cleanup goroutine after a collection.
func (t *Tuner) cycle() {
	if t.stopped.Load() {
		return
	}
	metrics.Read(t.sample)
	live, scan := t.sample[0].Value, t.sample[1].Value
	if live.Kind() == metrics.KindUint64 && scan.Kind() == metrics.KindUint64 {
		if p := Percent(live.Uint64(), scan.Uint64()); p != t.current {
			t.current = p
			debug.SetGCPercent(p)
		}
	}
	t.arm()
}
