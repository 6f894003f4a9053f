// Package gctune keeps the garbage collector's headroom in proportion to
// what jwt-authz's heap holds.
//
// Most of a busy jwt-authz heap is its verified-token cache: bounded,
// long-lived, and not added to by a cached Check, which allocates nothing.
// Go's default (GOGC=100) lets the heap grow to twice its live size before
// collecting, so 100,000 cached tokens would cost twice their own size in
// memory. Tuning keeps the headroom at half the live heap once that is more
// than the 4 MiB Go keeps anyway, which costs one collection cycle every
// few seconds more under a stream of new tokens and none under cache hits.
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
	MinPercent = 50
	MaxPercent = 100
)

// Percent returns the GOGC that gives a live heap of live bytes
// max(MinHeadroom, live/2) of headroom, within [MinPercent, MaxPercent].
func Percent(live uint64) int {
	if live == 0 {
		return MaxPercent
	}
	p := uint64(MinHeadroom) * 100 / live
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
	t := &Tuner{current: MaxPercent, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.arm()
	return t
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
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		if p := Percent(t.sample[0].Value.Uint64()); p != t.current {
			t.current = p
			debug.SetGCPercent(p)
		}
	}
	t.arm()
}
