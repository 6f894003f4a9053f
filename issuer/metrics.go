package issuer

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Label values of jwt_authz_token_requests_total.
const (
	grantRefresh     = "refresh_token"
	grantExchange    = "token_exchange"
	grantAdmin       = "admin"       // Mint: POST /admin/tokens, jwt-authz token issue
	grantUnsupported = "unsupported" // missing or unknown grant_type

	resultIssued       = "issued"
	resultInvalidGrant = "invalid_grant"
	resultInvalidReq   = "invalid_request"
	resultError        = "error"
)

// Metrics are the token endpoint metrics. Build them once per registry with
// NewMetrics and pass them in Options.
type Metrics struct {
	requests *prometheus.CounterVec
	reuse    prometheus.Counter
	behind   prometheus.Counter
}

// NewMetrics creates the token endpoint metrics and registers them with reg
// (nil leaves them unregistered, for tests):
// jwt_authz_token_requests_total{grant_type,result},
// jwt_authz_refresh_reuse_detected_total and
// jwt_authz_refresh_store_behind_total. Every label combination is
// initialised to zero so dashboards see the series before the first event.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jwt_authz_token_requests_total",
			Help: "Token endpoint requests by grant type and result.",
		}, []string{"grant_type", "result"}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jwt_authz_refresh_reuse_detected_total",
			Help: "Refresh tokens presented again after rotation; each revoked its session.",
		}),
		behind: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jwt_authz_refresh_store_behind_total",
			Help: "Refresh tokens issued after their session's current one as the session store holds it: the store lost rotations (restored from an older copy); each ended its session without revoking its access tokens.",
		}),
	}
	for _, g := range []string{grantRefresh, grantExchange, grantAdmin, grantUnsupported} {
		for _, r := range []string{resultIssued, resultInvalidGrant, resultInvalidReq, resultError} {
			m.requests.WithLabelValues(g, r)
		}
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.reuse, m.behind} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register issuer metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *Metrics) request(grant, result string) {
	m.requests.WithLabelValues(grant, result).Inc()
}
