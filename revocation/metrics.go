package revocation

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwt-authz/jwt-authz/internal/promreg"
)

// Metrics holds the revocation metrics. A nil *Metrics records nothing, so
// tests and tools can leave Options.Metrics unset.
type Metrics struct {
	revocations *prometheus.CounterVec
	entries     *prometheus.GaugeVec
	// entriesOf is entries' gauge per kind, in the order of kindList,
	// resolved once: setEntries runs for every entry a replica applies.
	entriesOf   [len(kindList)]prometheus.Gauge
	setSessions prometheus.Gauge
	storeUp     prometheus.Gauge
	syncLag     prometheus.Histogram
	syncs       *prometheus.CounterVec
	restored    prometheus.Counter
	lastSync    prometheus.Gauge
	failClosed  prometheus.Counter
	failing     prometheus.Gauge
}

// NewMetrics creates the revocation metrics and registers them with reg
// (nil: not registered). When reg already holds a metric of the same name
// and shape, for example because a second Service shares the registry, that
// one is reused. A registration that fails for another reason leaves the
// metric working but unexported; it cannot happen with the fixed names
// used here.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jwt_authz_revocations_total",
			Help: "Revocations recorded through this replica, by kind.",
		}, []string{"kind"}),
		entries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "jwt_authz_revoked_entries",
			Help: "Revocation entries held in this replica's index, by kind.",
		}, []string{"kind"}),
		setSessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "jwt_authz_revoked_set_sessions",
			Help: "Sessions held in this replica's index by its session-set (sid_set) revocations.",
		}),
		storeUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "jwt_authz_revocation_store_up",
			Help: "1 when the last operation on the revocation store succeeded, else 0.",
		}),
		syncLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "jwt_authz_revocation_sync_lag_seconds",
			Help:    "Time from a revocation's creation on any replica to its application on this one.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jwt_authz_revocation_syncs_total",
			Help: "Synchronisations with the shared revocation store, by mode (incremental, full, restore) and result (success, error).",
		}, []string{"mode", "result"}),
		restored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jwt_authz_revocation_restored_entries_total",
			Help: "Entries this replica wrote back into a shared store that had lost them.",
		}),
		lastSync: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "jwt_authz_revocation_last_sync_timestamp_seconds",
			Help: "When this replica last synchronised with the revocation store.",
		}),
		failClosed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jwt_authz_revocation_fail_closed_total",
			Help: "Times Check started failing closed (store_unavailable) because the revocation state could not be trusted: the shared store not reached since start, or unreachable for longer than max_staleness.",
		}),
		failing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "jwt_authz_revocation_failing_closed",
			Help: "1 while Check fails closed (store_unavailable) because the revocation state cannot be trusted, else 0.",
		}),
	}
	m.revocations = promreg.Register(reg, m.revocations)
	m.entries = promreg.Register(reg, m.entries)
	m.setSessions = promreg.Register(reg, m.setSessions)
	m.storeUp = promreg.Register(reg, m.storeUp)
	m.syncLag = promreg.Register(reg, m.syncLag)
	m.syncs = promreg.Register(reg, m.syncs)
	m.restored = promreg.Register(reg, m.restored)
	m.lastSync = promreg.Register(reg, m.lastSync)
	m.failClosed = promreg.Register(reg, m.failClosed)
	m.failing = promreg.Register(reg, m.failing)
	for i, k := range kindList {
		m.revocations.WithLabelValues(string(k))
		m.entriesOf[i] = m.entries.WithLabelValues(string(k))
	}
	for _, mode := range []string{syncIncremental, syncFull, syncRestore} {
		for _, result := range []string{"success", "error"} {
			m.syncs.WithLabelValues(mode, result)
		}
	}
	return m
}

// kindList is Kinds() without the allocation: the entry gauges' order.
var kindList = [...]Kind{KindJTI, KindSID, KindSub, KindProvider, KindSIDSet}

// Synchronisation modes, used as the "mode" label.
const (
	syncIncremental = "incremental"
	syncFull        = "full"
	syncRestore     = "restore"
)

func (m *Metrics) revoked(k Kind) {
	if m != nil {
		m.revocations.WithLabelValues(string(k)).Inc()
	}
}

// setEntries sets the entry gauges from ix's counts: a few atomic loads
// and stores, no allocation.
func (m *Metrics) setEntries(ix *Index) {
	if m != nil {
		for i, k := range kindList {
			m.entriesOf[i].Set(float64(ix.Len(k)))
		}
		m.setSessions.Set(float64(ix.SetSessions()))
	}
}

func (m *Metrics) setStoreUp(up bool) {
	if m != nil {
		v := 0.0
		if up {
			v = 1
		}
		m.storeUp.Set(v)
	}
}

func (m *Metrics) observeLag(d time.Duration) {
	if m != nil {
		m.syncLag.Observe(max(d, 0).Seconds())
	}
}

func (m *Metrics) synced(mode string, err error, now time.Time) {
	if m == nil {
		return
	}
	if err != nil {
		m.syncs.WithLabelValues(mode, "error").Inc()
		return
	}
	m.syncs.WithLabelValues(mode, "success").Inc()
	m.lastSync.Set(float64(now.UnixMilli()) / 1000)
}

func (m *Metrics) restoredEntries(n int) {
	if m != nil {
		m.restored.Add(float64(n))
	}
}

// setFailingClosed records whether Check fails closed because the
// revocation state cannot be trusted; started counts the moment it began.
func (m *Metrics) setFailingClosed(on, started bool) {
	if m == nil {
		return
	}
	if started {
		m.failClosed.Inc()
	}
	v := 0.0
	if on {
		v = 1
	}
	m.failing.Set(v)
}
