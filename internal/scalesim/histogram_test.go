package scalesim

import (
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	h := newHistogram()
	if got := h.quantile(0.99); got != 0 {
		t.Fatalf("empty histogram p99 = %v, want 0", got)
	}
	for i := 1; i <= 100; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	h.add(-time.Second) // clamped to zero
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		got := h.quantile(c.q)
		if got < c.want || got > c.want+bucketWidth {
			t.Errorf("quantile(%v) = %v, want %v within one bucket", c.q, got, c.want)
		}
	}
	h.add(time.Hour)
	if h.max != time.Hour || h.quantile(1) != time.Hour {
		t.Errorf("max = %v, quantile(1) = %v, want 1h for both", h.max, h.quantile(1))
	}
}

func TestIDsRoundTrip(t *testing.T) {
	a, b := newIDs(7), newIDs(7)
	for _, i := range []int{0, 1, 99_999, 1 << 40} {
		v := a.value(i)
		if len(v) != 36 {
			t.Fatalf("value(%d) = %q, want a 36-character UUID", i, v)
		}
		if got, ok := a.index(v); !ok || got != i {
			t.Errorf("index(value(%d)) = %d, %v", i, got, ok)
		}
		if _, ok := b.index(v); ok && a.prefix != b.prefix {
			t.Errorf("another run's ids claim %q", v)
		}
	}
	if got, ok := a.index(a.provider); !ok || got != 7 {
		t.Errorf("index(provider) = %d, %v; want the provider slot 7", got, ok)
	}
	for _, bad := range []string{"", "x", a.prefix + "zzzzzzzzzzzz", a.prefix + "0"} {
		if _, ok := a.index(bad); ok {
			t.Errorf("index(%q) accepted", bad)
		}
	}
}

func TestGoalStopsWaitingForUnwrittenEntries(t *testing.T) {
	g := newGoal(0, 3, 2, 0) // 3 entries on 2 replicas
	for range 4 {
		g.applied1()
	}
	select {
	case <-g.done:
		t.Fatal("done after 4 of 6 applies")
	default:
	}
	g.unwritten(1) // the third entry failed: 4 applies are all there are
	<-g.done
	g.applied1() // a late apply of the "failed" entry closes nothing twice
}
