package proctune

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// feed gives g n windows of the same CPU use and returns the changes.
func feed(g *Governor, cores float64, n int) []Change {
	var out []Change
	for range n {
		if c := g.Observe(Load{Cores: cores}); c != Stay {
			out = append(out, c)
		}
	}
	return out
}

func TestGovernorGoesToOnePWhenQuiet(t *testing.T) {
	g := NewGovernor()
	if got := feed(g, 0, DownWindows-1); len(got) != 0 || g.One() {
		t.Fatalf("descended after %d quiet windows: %v", DownWindows-1, got)
	}
	if got := g.Observe(Load{Cores: 0.01}); got != ToOne || !g.One() {
		t.Fatalf("window %d: %v, want ToOne", DownWindows, got)
	}
	// One P stays while it is not nearly saturated.
	if got := feed(g, UpShare-0.01, 1000); len(got) != 0 {
		t.Fatalf("left one P under UpShare: %v", got)
	}
	if got := g.Observe(Load{Cores: UpShare}); got != ToDefault || g.One() {
		t.Fatalf("at UpShare: %v, want ToDefault", got)
	}
}

func TestGovernorLeavesOnePWhenWorkQueues(t *testing.T) {
	g := NewGovernor()
	feed(g, 0, DownWindows)
	if !g.One() {
		t.Fatal("not on one P after a quiet hold")
	}
	for _, l := range []Load{
		{Cores: 0.3, Waits: 100, Late: 4},           // under QueueShare
		{Cores: 0.3, Waits: MinWaits - 1, Late: 40}, // too few waits to tell
		{Cores: 0.3},
	} {
		if got := g.Observe(l); got != Stay {
			t.Fatalf("%+v: %v, want Stay", l, got)
		}
	}
	if got := g.Observe(Load{Cores: 0.3, Waits: 100, Late: 5}); got != ToDefault {
		t.Fatalf("5 %% of waits late: %v, want ToDefault", got)
	}
	// On the default, waits do not hold back a descent: only CPU does.
	for range DownWindows * 2 {
		if g.Observe(Load{Cores: 0.1, Waits: 100, Late: 100}) == ToOne {
			return
		}
	}
	t.Fatal("no descent while quiet on the default")
}

func TestGovernorTriesOnePUnderALightLoad(t *testing.T) {
	g := NewGovernor()
	// Over TryShare on average: the default stays.
	if got := feed(g, TryShare+0.05, 5000); len(got) != 0 {
		t.Fatalf("tried one P at %.2f cores: %v", TryShare+0.05, got)
	}
	// A core on the default (as a light load costs with two Ps) is under
	// TryShare: one P is tried once the average has come down.
	for range DownWindows {
		if g.Observe(Load{Cores: 1.0}) == ToOne {
			return
		}
	}
	t.Fatal("no try of one P at 1.0 cores")
}

func TestGovernorBacksOffWhenATryFails(t *testing.T) {
	g := NewGovernor()
	hold := DownWindows
	for range 10 {
		if got := feed(g, 0.9, hold-1); len(got) != 0 {
			t.Fatalf("tried before a hold of %d: %v", hold, got)
		}
		if g.Observe(Load{Cores: 0.9}) != ToOne {
			t.Fatalf("no try at the end of a hold of %d", hold)
		}
		// One P does not carry the load.
		if g.Observe(Load{Cores: 1}) != ToDefault {
			t.Fatal("a busy window on one P did not restore the default")
		}
		hold = min(hold*2, MaxHoldWindows)
	}
	if hold != MaxHoldWindows {
		t.Fatalf("hold %d after ten failed tries, want the cap %d", hold, MaxHoldWindows)
	}
	// A quiet process goes to one P whatever the hold.
	if got := feed(g, 0, DownWindows); len(got) != 1 || !g.One() {
		t.Fatalf("not on one P after a quiet while: %v", got)
	}
	// One P held for FlapWindows: the next try waits the first hold again.
	feed(g, 0, FlapWindows)
	g.Observe(Load{Cores: 1})
	if got := feed(g, 0.9, DownWindows); len(got) != 1 {
		t.Fatalf("hold not back to %d after one P held: %v", DownWindows, got)
	}
}

// TestTunerFollowsTheLoad runs the Tuner on this process: idle, it goes to
// one P; a goroutine that spins brings the default back; idle again, one P.
func TestTunerFollowsTheLoad(t *testing.T) {
	def := runtime.GOMAXPROCS(0)
	if def < 2 {
		t.Skip("the runtime's default is one P here")
	}
	var changes atomic.Int32
	// Start would do nothing if the test's environment set GOMAXPROCS.
	// The shares are lower than the product's, so that the spinning
	// goroutine crosses them on a machine busy with other tests too.
	gov := NewGovernor()
	gov.up, gov.quiet, gov.try = 0.3, 0.1, 0.1
	tu := start(5*time.Millisecond, gov, func(int) { changes.Add(1) })
	if tu == nil {
		t.Fatal("start returned nil on a unix system")
	}
	defer func() {
		tu.Stop()
		if got := runtime.GOMAXPROCS(0); got != def {
			t.Errorf("GOMAXPROCS %d after Stop, want the default %d", got, def)
		}
	}()
	testkit.Eventually(t, 30*time.Second, time.Millisecond, "one P while idle", func() bool { return runtime.GOMAXPROCS(0) == 1 })

	stop := spin(1, func() {})
	testkit.Eventually(t, 30*time.Second, time.Millisecond, "the default under a spinning goroutine", func() bool { return runtime.GOMAXPROCS(0) == def })
	stop()
	testkit.Eventually(t, 30*time.Second, time.Millisecond, "one P once idle again", func() bool { return runtime.GOMAXPROCS(0) == 1 })
	if changes.Load() < 3 {
		t.Errorf("notify called %d times, want at least 3", changes.Load())
	}
}

// TestTunerSeesQueuedWork: with the CPU rule out of reach, goroutines that
// wait for the one P are what restores the default.
func TestTunerSeesQueuedWork(t *testing.T) {
	def := runtime.GOMAXPROCS(0)
	if def < 2 {
		t.Skip("the runtime's default is one P here")
	}
	gov := NewGovernor()
	// The runtime samples one wait in eight; on a machine busy with other
	// tests a short window holds fewer than MinWaits.
	gov.up, gov.quiet, gov.try, gov.minWaits = 100, 0.1, 0.1, 5
	tu := start(20*time.Millisecond, gov, nil)
	defer tu.Stop()
	testkit.Eventually(t, 30*time.Second, time.Millisecond, "one P while idle", func() bool { return runtime.GOMAXPROCS(0) == 1 })

	defer spin(16, func() {
		for end := time.Now().Add(100 * time.Microsecond); time.Now().Before(end); {
		}
		runtime.Gosched()
	})()
	testkit.Eventually(t, 30*time.Second, time.Millisecond, "the default with 16 goroutines queued", func() bool { return runtime.GOMAXPROCS(0) == def })
}

// spin runs n goroutines that call step until the returned stop is
// called, which waits for them to end.
func spin(n int, step func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
					step()
				}
			}
		})
	}
	return func() { close(done); wg.Wait() }
}

func TestStartLeavesAnOperatorsGOMAXPROCS(t *testing.T) {
	t.Setenv("GOMAXPROCS", "2")
	if tu := Start(nil); tu != nil {
		tu.Stop()
		t.Fatal("Start tuned with GOMAXPROCS set")
	}
	var nilTuner *Tuner
	nilTuner.Stop()
}
