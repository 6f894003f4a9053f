package extauthz

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// lenner is what the entries gauge reads.
type lenner interface{ Len() int }

// Metrics are the Check metrics of docs/metrics.md. Build them once per registry
// and share them across policies.
type Metrics struct {
	checks    *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	cacheReqs *prometheus.CounterVec

	durAllowed, durDenied, durDryRun prometheus.Observer
	cacheHit, cacheMiss              prometheus.Counter
	cacheLen                         atomic.Pointer[lenner]
	decisionLogDropped               prometheus.Counter
}

// Result label values of jwt_authz_check_requests_total.
const (
	resultAllowed      = 0
	resultDenied       = 1
	resultDryRunDenied = 2
)

var resultNames = [3]string{"allowed", "denied", "dry_run_denied"}

// counters holds the pre-resolved counter of every (result, reason) of one
// provider, so a Check increments without a label lookup.
type counters [3][reasonCount]prometheus.Counter

// NewMetrics registers the Check metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jwt_authz_check_requests_total",
			Help: "Check decisions by provider, result and reason.",
		}, []string{"provider", "result", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "jwt_authz_check_duration_seconds",
			Help:    "Time to decide one Check, by result.",
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1},
		}, []string{"result"}),
		cacheReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jwt_authz_token_cache_requests_total",
			Help: "Verified-token cache lookups by result (hit, miss).",
		}, []string{"result"}),
	}
	m.decisionLogDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "jwt_authz_decision_log_dropped_total",
		Help: "Decision log lines dropped because the writer was behind.",
	})
	reg.MustRegister(m.checks, m.duration, m.cacheReqs, m.decisionLogDropped)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "jwt_authz_token_cache_entries",
		Help: "Tokens held in the verified-token cache.",
	}, func() float64 {
		if l := m.cacheLen.Load(); l != nil {
			return float64((*l).Len())
		}
		return 0
	}))
	m.durAllowed = m.duration.WithLabelValues(resultNames[resultAllowed])
	m.durDenied = m.duration.WithLabelValues(resultNames[resultDenied])
	m.durDryRun = m.duration.WithLabelValues(resultNames[resultDryRunDenied])
	m.cacheHit = m.cacheReqs.WithLabelValues("hit")
	m.cacheMiss = m.cacheReqs.WithLabelValues("miss")
	return m
}

// Forget deletes the Check series of a provider that is no longer
// configured.
func (m *Metrics) Forget(provider string) {
	m.checks.DeletePartialMatch(prometheus.Labels{"provider": provider})
}

func (m *Metrics) counters(provider string) counters {
	var c counters
	c[resultAllowed][ReasonOK] = m.checks.WithLabelValues(provider, resultNames[resultAllowed], ReasonOK.String())
	for r := ReasonMissing; r < reasonCount; r++ {
		c[resultDenied][r] = m.checks.WithLabelValues(provider, resultNames[resultDenied], r.String())
		c[resultDryRunDenied][r] = m.checks.WithLabelValues(provider, resultNames[resultDryRunDenied], r.String())
	}
	return c
}

func (m *Metrics) observer(result int) prometheus.Observer {
	switch result {
	case resultAllowed:
		return m.durAllowed
	case resultDenied:
		return m.durDenied
	}
	return m.durDryRun
}
