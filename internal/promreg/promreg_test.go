package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRegisterReturnsTheCollectorAlreadyThere(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "promreg_test_total", Help: "test"}
	first := Register(reg, prometheus.NewCounter(opts))
	second := Register(reg, prometheus.NewCounter(opts))
	if first != second {
		t.Fatal("a second registration did not return the first collector")
	}
	second.Inc()
	if got := testCount(t, reg); got != 1 {
		t.Fatalf("count %v, want 1", got)
	}
	unregistered := prometheus.NewCounter(opts)
	if Register(nil, unregistered) != unregistered {
		t.Fatal("a nil registry must return the collector given")
	}
}

func testCount(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 {
		t.Fatalf("gather: %v, %d families", err, len(mfs))
	}
	return mfs[0].GetMetric()[0].GetCounter().GetValue()
}
