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
// in turn on one thread, and a cached Check costs about 30 % less CPU at
// one Check in flight, with no more latency up to the point where one P is
// busy most of the time.
//
// Every Window the tuner reads the CPU time the process used (user and
// system) and acts on it in cores:
//
//   - on one P, a window at UpShare of a core or more restores the runtime's
//     default (runtime.SetDefaultGOMAXPROCS, which follows the CPU count,
//     the affinity mask and the container's CPU limit), at once;
//   - on the default, DownWindows windows in a row under DownShare of a core
//     go back to one P.
//
// More Ps spend more CPU on the same load, so DownShare is lower than
// UpShare by more than that difference and the two rules do not undo each
// other. Should a load still alternate, each return to the default within
// FlapWindows of leaving it doubles how long the next descent waits, up to
// MaxDownWindows.
//
// An operator's GOMAXPROCS wins: with it set in the environment, Start does
// nothing.
package proctune

import (
	"os"
	"runtime"
	"sync"
	"time"
)

const (
	// Window is how often the process's CPU use is read.
	Window = 100 * time.Millisecond
	// UpShare: on one P, a window using at least this share of a core
	// restores the default.
	UpShare = 0.85
	// DownShare and DownWindows: on the default, this many windows in a
	// row under this share of a core go back to one P.
	DownShare   = 0.7
	DownWindows = 20
	// FlapWindows and MaxDownWindows: a return to the default within
	// FlapWindows of the descent doubles the next descent's wait, up to
	// MaxDownWindows (two minutes).
	FlapWindows    = 100
	MaxDownWindows = 1200
)

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
	up, down  float64 // UpShare and DownShare
	one       bool    // on one P
	below     int     // windows in a row under DownShare, on the default
	hold      int     // windows under DownShare a descent needs
	sinceDown int     // windows since the last descent, on one P
}

// NewGovernor returns a Governor that starts on the default.
func NewGovernor() *Governor { return &Governor{up: UpShare, down: DownShare, hold: DownWindows} }

// One reports whether the Governor is on one P.
func (g *Governor) One() bool { return g.one }

// Observe takes the CPU the process used over one window, in cores, and
// returns the change to make.
func (g *Governor) Observe(cores float64) Change {
	if g.one {
		g.sinceDown++
		if cores < g.up {
			return Stay
		}
		if g.sinceDown < FlapWindows {
			g.hold = min(g.hold*2, MaxDownWindows)
		} else {
			g.hold = DownWindows
		}
		g.one, g.below = false, 0
		return ToDefault
	}
	if cores >= g.down {
		g.below = 0
		return Stay
	}
	g.below++
	if g.below < g.hold {
		return Stay
	}
	g.one, g.sinceDown = true, 0
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
	if _, ok := cpuTime(); !ok {
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
	lastCPU, _ := cpuTime()
	lastAt := time.Now()
	for {
		select {
		case <-t.done:
			return
		case now := <-tick.C:
			cpu, ok := cpuTime()
			wall := now.Sub(lastAt)
			if !ok || wall <= 0 || cpu < lastCPU {
				continue
			}
			cores := float64(cpu-lastCPU) / float64(wall)
			lastCPU, lastAt = cpu, now
			t.apply(t.gov.Observe(cores))
		}
	}
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
