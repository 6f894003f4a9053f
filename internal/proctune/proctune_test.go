package proctune

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// feed gives g n windows of the same CPU use and returns the changes.
func feed(g *Governor, cores float64, n int) []Change {
	var out []Change
	for range n {
		if c := g.Observe(cores); c != Stay {
			out = append(out, c)
		}
	}
	return out
}

func TestGovernorDescendsAfterAQuietHold(t *testing.T) {
	g := NewGovernor()
	if got := feed(g, DownShare-0.01, DownWindows-1); len(got) != 0 || g.One() {
		t.Fatalf("descended after %d quiet windows: %v", DownWindows-1, got)
	}
	if got := g.Observe(0.1); got != ToOne || !g.One() {
		t.Fatalf("window %d: %v, want ToOne", DownWindows, got)
	}
	// One P stays while it is not nearly saturated.
	if got := feed(g, UpShare-0.01, 1000); len(got) != 0 {
		t.Fatalf("left one P under UpShare: %v", got)
	}
	if got := g.Observe(UpShare); got != ToDefault || g.One() {
		t.Fatalf("at UpShare: %v, want ToDefault", got)
	}
}

func TestGovernorBusyWindowRestartsTheHold(t *testing.T) {
	g := NewGovernor()
	feed(g, 0, DownWindows-1)
	if g.Observe(DownShare) != Stay {
		t.Fatal("a window at DownShare changed something")
	}
	if got := feed(g, 0, DownWindows-1); len(got) != 0 {
		t.Fatalf("the hold did not restart after a busy window: %v", got)
	}
	if g.Observe(0) != ToOne {
		t.Fatal("no descent after a full quiet hold")
	}
}

func TestGovernorBacksOffWhenALoadAlternates(t *testing.T) {
	g := NewGovernor()
	hold := DownWindows
	for range 10 {
		if got := feed(g, 0, hold-1); len(got) != 0 {
			t.Fatalf("descended before a hold of %d: %v", hold, got)
		}
		if g.Observe(0) != ToOne {
			t.Fatalf("no descent at the end of a hold of %d", hold)
		}
		if g.Observe(1) != ToDefault {
			t.Fatal("a busy window on one P did not restore the default")
		}
		hold = min(hold*2, MaxDownWindows)
	}
	if hold != MaxDownWindows {
		t.Fatalf("hold %d after ten flaps, want the cap %d", hold, MaxDownWindows)
	}
	// A long stay on one P forgets the flapping.
	if got := feed(g, 0, hold); len(got) != 1 || !g.One() {
		t.Fatalf("not on one P after a full hold: %v", got)
	}
	feed(g, 0, FlapWindows)
	g.Observe(1)
	if got := feed(g, 0, DownWindows); len(got) != 1 {
		t.Fatalf("hold not back to %d after a long stay: %v", DownWindows, got)
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
	gov.up, gov.down = 0.3, 0.1
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
	waitFor(t, func() bool { return runtime.GOMAXPROCS(0) == 1 }, "one P while idle")

	stop := make(chan struct{})
	spun := make(chan struct{})
	go func() {
		defer close(spun)
		for {
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	waitFor(t, func() bool { return runtime.GOMAXPROCS(0) == def }, "the default under a spinning goroutine")
	close(stop)
	<-spun
	waitFor(t, func() bool { return runtime.GOMAXPROCS(0) == 1 }, "one P once idle again")
	if changes.Load() < 3 {
		t.Errorf("notify called %d times, want at least 3", changes.Load())
	}
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

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
