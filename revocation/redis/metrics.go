package redis

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds the announcement metrics of a Store. A nil *Metrics
// records nothing.
type Metrics struct {
	batchEntries prometheus.Histogram
	gaps         prometheus.Counter
}

// NewMetrics creates the announcement metrics and registers them with reg
// (nil: not registered); metrics of the same name already registered are
// reused.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		batchEntries: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "jwt_authz_revocation_announce_batch_entries",
			Help:    "Revocations per write to the shared store (each announced to every replica in one message), by this replica.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000},
		}),
		gaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jwt_authz_revocation_announce_gaps_total",
			Help: "Announcements this replica missed (a gap in their sequence numbers) and read from the change log instead.",
		}),
	}
	m.batchEntries = register(reg, m.batchEntries)
	m.gaps = register(reg, m.gaps)
	return m
}

// register registers c with reg and returns the collector to use: c, or
// the equal one already registered.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

func (s *Store) observeBatch(n int) {
	if s.metrics != nil {
		s.metrics.batchEntries.Observe(float64(n))
	}
}

func (s *Store) observeGap() {
	if s.metrics != nil {
		s.metrics.gaps.Inc()
	}
}
