package jwks

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwt-authz/jwt-authz/internal/promreg"
)

// Fetch results, the values of the "result" label of
// jwt_authz_jwks_fetch_total.
const (
	resultSuccess     = "success"
	resultError       = "error"
	resultNotModified = "not_modified"
)

// Metrics holds the JWKS collectors. One Metrics is shared by every Source
// and Static of a process; each labels its series with its provider name.
type Metrics struct {
	fetches     *prometheus.CounterVec
	keys        *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
	skipped     *prometheus.CounterVec
}

// NewMetrics creates the JWKS collectors and registers them with reg when it
// is not nil:
//
//	jwt_authz_jwks_fetch_total{provider,result}           counter: fetches by result (success, error, not_modified)
//	jwt_authz_jwks_keys{provider}                         gauge:   usable keys in the current set
//	jwt_authz_jwks_last_success_timestamp_seconds{provider} gauge: last successful or not-modified fetch
//	jwt_authz_jwks_keys_skipped_total{provider,reason}    counter: keys of parsed documents left out, by reason (SkipReasons)
//
// Every (provider, result) and (provider, reason) series of the counters
// exists from the moment a Source of the provider is created, at 0, so that
// rates and alerts work before the first event.
//
// Calling it again with the same registry reuses the registered collectors.
// It does not panic: a collector that reg refuses for another reason keeps
// working, unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jwt_authz_jwks_fetch_total",
			Help: "JWKS fetches by provider and result (success, error, not_modified).",
		}, []string{"provider", "result"}),
		keys: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "jwt_authz_jwks_keys",
			Help: "Usable verification keys in the provider's current JWKS.",
		}, []string{"provider"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "jwt_authz_jwks_last_success_timestamp_seconds",
			Help: "Unix time of the provider's last successful (or not modified) JWKS fetch.",
		}, []string{"provider"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jwt_authz_jwks_keys_skipped_total",
			Help: "JWKS keys left out because they are unsafe, too costly or unusable, by provider and reason; counted each time a changed document is parsed.",
		}, []string{"provider", "reason"}),
	}
	if reg != nil {
		m.fetches = promreg.Register(reg, m.fetches)
		m.keys = promreg.Register(reg, m.keys)
		m.lastSuccess = promreg.Register(reg, m.lastSuccess)
		m.skipped = promreg.Register(reg, m.skipped)
	}
	return m
}

// fetchResults are the values of the "result" label of
// jwt_authz_jwks_fetch_total.
var fetchResults = []string{resultSuccess, resultError, resultNotModified}

// init creates the counter series of provider at 0.
func (m *Metrics) init(provider string) {
	for _, r := range fetchResults {
		m.fetches.WithLabelValues(provider, r)
	}
	for _, r := range SkipReasons {
		m.skipped.WithLabelValues(provider, r)
	}
}

// Forget deletes every series of a provider that is no longer configured.
func (m *Metrics) Forget(provider string) {
	for _, r := range fetchResults {
		m.fetches.DeleteLabelValues(provider, r)
	}
	for _, r := range SkipReasons {
		m.skipped.DeleteLabelValues(provider, r)
	}
	m.keys.DeleteLabelValues(provider)
	m.lastSuccess.DeleteLabelValues(provider)
}

// skip records a key left out of a parsed document.
func (m *Metrics) skip(provider, reason string) {
	m.skipped.WithLabelValues(provider, reason).Inc()
}

// observe records one fetch.
func (m *Metrics) observe(provider, result string) {
	m.fetches.WithLabelValues(provider, result).Inc()
}

// setKeys records the size of the provider's current set.
func (m *Metrics) setKeys(provider string, n int) {
	m.keys.WithLabelValues(provider).Set(float64(n))
}

// setLastSuccess records the time of a successful fetch, in Unix seconds.
func (m *Metrics) setLastSuccess(provider string, unixSeconds float64) {
	m.lastSuccess.WithLabelValues(provider).Set(unixSeconds)
}
