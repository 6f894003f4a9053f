package backchannel

import "github.com/prometheus/client_golang/prometheus"

// Result label values of jwt_authz_backchannel_logout_total.
const (
	// ResultRevoked: the logout was recorded.
	ResultRevoked = "revoked"
	// ResultInvalidRequest: not a POST, not a form, too large, or no
	// single logout_token.
	ResultInvalidRequest = "invalid_request"
	// ResultInvalidToken: the logout token failed verification or
	// validation.
	ResultInvalidToken = "invalid_token"
	// ResultNotEnabled: a valid token of a provider without
	// backchannel_logout.enabled.
	ResultNotEnabled = "not_enabled"
	// ResultReplayed: the jti was seen before.
	ResultReplayed = "replayed"
	// ResultUnavailable: the keys, the replay cache or the revocation
	// store could not answer; nothing was accepted.
	ResultUnavailable = "unavailable"
)

// Results lists every result label value.
func Results() []string {
	return []string{ResultRevoked, ResultInvalidRequest, ResultInvalidToken, ResultNotEnabled, ResultReplayed, ResultUnavailable}
}

// NoProvider is the provider label of requests whose provider is unknown.
const NoProvider = "none"

// Metrics count logout outcomes. Build them once per registry.
type Metrics struct {
	total *prometheus.CounterVec
}

// NewMetrics registers jwt_authz_backchannel_logout_total on reg, with
// every result of provider "none" at 0.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{total: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jwt_authz_backchannel_logout_total",
		Help: "Back-channel logout requests by provider and result.",
	}, []string{"provider", "result"})}
	reg.MustRegister(m.total)
	m.Init(NoProvider)
	return m
}

// Init creates every result series of provider at 0, so that rates work
// before the first logout.
func (m *Metrics) Init(provider string) {
	for _, r := range Results() {
		m.total.WithLabelValues(provider, r)
	}
}

// Forget deletes the series of a provider that is no longer configured.
func (m *Metrics) Forget(provider string) {
	m.total.DeletePartialMatch(prometheus.Labels{"provider": provider})
}

func (m *Metrics) count(provider, result string) {
	if m == nil {
		return
	}
	m.total.WithLabelValues(provider, result).Inc()
}
