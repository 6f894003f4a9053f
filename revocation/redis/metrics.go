package redis

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwt-authz/jwt-authz/internal/promreg"
)

// Metrics holds the announcement metrics of a Store. A nil *Metrics
// records nothing.
type Metrics struct {
	batchEntries prometheus.Histogram
	gaps         prometheus.Counter
	setFallbacks prometheus.Counter
}

// NewMetrics creates the announcement metrics and registers them with reg
// (nil: not registered); metrics of the same name already registered are
// reused.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		batchEntries: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "jwt_authz_revocation_announce_batch_entries",
			Help:    "Revocations per write to the shared store by this replica (one script call; its entries are announced in the next message of any replica).",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000},
		}),
		gaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jwt_authz_revocation_announce_gaps_total",
			Help: "Announcements this replica missed (a gap in their sequence numbers) and read from the change log instead.",
		}),
		setFallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jwt_authz_revocation_set_reads_from_primary_total",
			Help: "Session set contents that the replica-spreading reader could not read whole or checked (a Redis replica behind or unreachable) and that were read again from the primary.",
		}),
	}
	m.batchEntries = promreg.Register(reg, m.batchEntries)
	m.setFallbacks = promreg.Register(reg, m.setFallbacks)
	m.gaps = promreg.Register(reg, m.gaps)
	return m
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

func (s *Store) observeSetFallback() {
	if s.metrics != nil {
		s.metrics.setFallbacks.Inc()
	}
}
