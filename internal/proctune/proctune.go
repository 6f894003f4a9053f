// Package proctune runs the Go scheduler on one processor (P) while one is
// enough for the load, and on the runtime's default number of them
// otherwise.
//
// With more than one P, every hand-off between goroutines wakes the thread
// of an idle P, which looks for work, finds the goroutine already taken or
// about to be, and goes back to sleep. A Check is three hand-offs (the
// connection's reader, the stream's worker, the connection's writer), so at
// one Check in flight most of the server's CPU went into waking threads:
// about nine context switches per Check. On one P the same goroutines run
// in turn on one thread, and a cached Check at one Check in flight costs
// less CPU (measured below).
//
// Every Window the tuner reads the CPU time the process used (user and
// system, in cores) and the runtime's sample of how long goroutines waited
// to run (/sched/latencies:seconds).
//
// On one P, a window at UpShare of a core or more, or one in which
// QueueShare of the waits sampled took QueueLatency or longer (work queued
// behind the one P, as when many Checks arrive together), restores the
// runtime's default at once (runtime.SetDefaultGOMAXPROCS, which follows the
// CPU count, the affinity mask and the container's CPU limit). A burst
// shorter than a window is served on one P.
//
// On the default, the CPU used is averaged over about a second (AvgWeight),
// and at least DownWindows after the last change:
//
//   - an average under QuietShare of a core goes back to one P;
//   - an average under TryShare of a core tries one P. More Ps spend more CPU
//     on the same load (waking threads), so a load that averages a core on
//     the default can need two thirds of one on one P. If it does not fit,
//     the next window says so and the default returns; each such return
//     within FlapWindows of the descent doubles how long the next try waits,
//     up to MaxHoldWindows, and the wait starts over once one P has held.
//
// An operator's GOMAXPROCS wins: with it set in the environment, Start does
// nothing. jwt-authz starts the tuner only with proc_tuning: auto (the
// default); proc_tuning: off leaves GOMAXPROCS to the runtime.
//
// What it is worth (BENCHMARKS.md, "The processor tuner, on and off"): one
// jwt-authz server with the tuner and one with proc_tuning: off, driven in
// turn by authzbench's closed loop with one cached RS256 token, 16 pairs of
// 3 s runs on a shared 2-core VM. At one Check in flight the tuner served
// 1.24 times the Checks per server CPU-second (median of the per-pair
// ratios; 0.91 to 1.66), that is about a fifth less CPU per Check, at a p99
// 1.19 times as long (0.43 against 0.38 ms, medians). At 16 in flight both
// run on two Ps: 0.99 times the Checks per CPU-second and 0.91 times the
// p99.
package proctune

import (
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

const (
	// Window is how often the process's CPU use is read.
	Window = 100 * time.Millisecond
	// UpShare: on one P, a window using at least this share of a core
	// restores the default.
	UpShare = 0.85
	// QueueLatency, QueueShare and MinWaits: on one P, a window with at
	// least MinWaits waits sampled, QueueShare of them QueueLatency or
	// longer, restores the default. At one Check in flight or a steady
	// rate, under 3 % of the waits reach 200 µs; with 16 Checks in flight
	// on one connection, 15-55 %.
	QueueLatency = 200 * time.Microsecond
	QueueShare   = 0.05
	MinWaits     = 50
	// AvgWeight is the weight of each window in the average CPU use on
	// the default: about the last second counts.
	AvgWeight = 0.1
	// DownWindows: no descent sooner than this after the last change.
	DownWindows = 20
	// QuietShare: on the default, an average under this share of a core
	// goes back to one P.
	QuietShare = 0.25
	// TryShare: on the default, an average under this many cores tries
	// one P, no sooner than the current hold allows.
	TryShare = 1.1
	// FlapWindows and MaxHoldWindows: a return to the default within
	// FlapWindows of a descent doubles the hold before the next try, up
	// to MaxHoldWindows (two minutes).
	FlapWindows    = 10
	MaxHoldWindows = 1200
)

// Load is what one window measured.
type Load struct {
	Cores float64 // CPU time the process used over the window, in cores
	Waits uint64  // scheduling waits sampled by the runtime
	Late  uint64  // of which QueueLatency or longer
}

// Change is what one window asks of the scheduler.
type Change int

// The changes a window can ask for.
const (
	Stay Change = iota
	ToOne
	ToDefault
)

// Governor decides, window by window, between one P and the default. It
// holds no lock and calls nothing; Tuner applies its answers.
type Governor struct {
	up, quiet, try float64 // UpShare, QuietShare, TryShare
	minWaits       uint64  // MinWaits

	one   bool    // on one P
	since int     // windows since the last change
	avg   float64 // average cores, on the default
	hold  int     // windows on the default before a try
}

// NewGovernor returns a Governor that starts on the default.
func NewGovernor() *Governor {
	return &Governor{up: UpShare, quiet: QuietShare, try: TryShare, minWaits: MinWaits, hold: DownWindows, avg: TryShare}
}

// One reports whether the Governor is on one P.
func (g *Governor) One() bool { return g.one }

// queued reports whether l shows work waiting behind the one P.
func (g *Governor) queued(l Load) bool {
	return l.Waits >= g.minWaits && float64(l.Late) >= QueueShare*float64(l.Waits)
}

// Observe takes what one window measured and returns the change to make.
func (g *Governor) Observe(l Load) Change {
	g.since++
	if g.one {
		if l.Cores < g.up && !g.queued(l) {
			return Stay
		}
		if g.since < FlapWindows {
			g.hold = min(g.hold*2, MaxHoldWindows)
		} else {
			g.hold = DownWindows
		}
		// The average starts from where one P gave out, so that a new
		// try needs about a second of lighter load first.
		g.one, g.since, g.avg = false, 0, max(l.Cores, g.try)
		return ToDefault
	}
	g.avg += (l.Cores - g.avg) * AvgWeight
	switch {
	case g.since >= DownWindows && g.avg < g.quiet:
	case g.since >= g.hold && g.avg < g.try:
	default:
		return Stay
	}
	g.one, g.since = true, 0
	return ToOne
}

// Tuner applies a Governor's answers to the runtime every Window.
type Tuner struct {
	gov    *Governor
	window time.Duration
	notify func(procs int)

	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

// Start begins tuning and returns the Tuner, or nil when GOMAXPROCS is set
// in the environment or the process's CPU time cannot be read. notify, when
// not nil, is called with the new GOMAXPROCS after every change. Tuning
// stops with Stop.
func Start(notify func(procs int)) *Tuner {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return nil
	}
	return start(Window, NewGovernor(), notify)
}

func start(window time.Duration, gov *Governor, notify func(procs int)) *Tuner {
	if _, ok := CPUTime(); !ok {
		return nil
	}
	t := &Tuner{gov: gov, window: window, notify: notify, done: make(chan struct{})}
	t.wg.Go(t.run)
	return t
}

// Stop ends tuning and restores the runtime's default. It is safe on a nil
// Tuner and more than once.
func (t *Tuner) Stop() {
	if t == nil {
		return
	}
	t.once.Do(func() {
		close(t.done)
		t.wg.Wait()
		if t.gov.One() {
			runtime.SetDefaultGOMAXPROCS()
		}
	})
}

func (t *Tuner) run() {
	tick := time.NewTicker(t.window)
	defer tick.Stop()
	waits := newWaitCounter()
	lastCPU, _ := CPUTime()
	lastAt := time.Now()
	for {
		select {
		case <-t.done:
			return
		case now := <-tick.C:
			cpu, ok := CPUTime()
			wall := now.Sub(lastAt)
			n, late := waits.read()
			if !ok || wall <= 0 || cpu < lastCPU {
				continue
			}
			l := Load{Cores: float64(cpu-lastCPU) / float64(wall), Waits: n, Late: late}
			lastCPU, lastAt = cpu, now
			t.apply(t.gov.Observe(l))
		}
	}
}

// waitCounter reads the runtime's histogram of scheduling waits and
// returns what was added since the last read.
type waitCounter struct {
	sample []metrics.Sample
	last   []uint64
}

func newWaitCounter() *waitCounter {
	w := &waitCounter{sample: []metrics.Sample{{Name: "/sched/latencies:seconds"}}}
	w.read()
	return w
}

// read returns the waits sampled since the last read, and how many of
// them took QueueLatency or longer.
func (w *waitCounter) read() (n, late uint64) {
	metrics.Read(w.sample)
	if w.sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0, 0
	}
	h := w.sample[0].Value.Float64Histogram()
	if len(w.last) == len(h.Counts) {
		limit := QueueLatency.Seconds()
		for i, c := range h.Counts {
			d := c - w.last[i]
			n += d
			if h.Buckets[i] >= limit {
				late += d
			}
		}
	}
	w.last = append(w.last[:0], h.Counts...)
	return n, late
}

func (t *Tuner) apply(c Change) {
	switch c {
	case ToOne:
		if runtime.GOMAXPROCS(0) == 1 {
			return
		}
		runtime.GOMAXPROCS(1)
	case ToDefault:
		runtime.SetDefaultGOMAXPROCS()
	default:
		return
	}
	if t.notify != nil {
		t.notify(runtime.GOMAXPROCS(0))
	}
}
