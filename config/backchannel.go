package config

import "strings"

// BackchannelLogout configures OpenID Connect Back-Channel Logout from one
// provider: POST /oidc/backchannel-logout on http_addr accepts that
// provider's logout tokens and revokes the session (sid) or subject they
// name, for that provider only.
type BackchannelLogout struct {
	Enabled bool `yaml:"enabled"`
	// Audience is the logout token's required "aud" value: the client id
	// under which jwt-authz (or the application it guards) is registered at
	// the identity provider.
	Audience string `yaml:"audience"`
}

// validateBackchannelLogout checks providers[i].backchannel_logout.
func validateBackchannelLogout(p *problems, path string, b BackchannelLogout) {
	path += ".backchannel_logout"
	switch {
	case b.Enabled && b.Audience == "":
		p.add(path+".audience", "must be set when %s.enabled is true: the client id the identity provider puts in the logout token's aud", path)
	case strings.TrimSpace(b.Audience) != b.Audience:
		p.add(path+".audience", "must not start or end with white space (it is compared exactly with \"aud\")")
	}
}

// BackchannelLogoutRateLimit bounds POST /oidc/backchannel-logout on
// http_addr, which verifies a signature for every request whoever sends
// it: a token bucket per client address, and one for all clients
// together so that a flood from many addresses is bounded too.
type BackchannelLogoutRateLimit struct {
	RequestsPerSecond      *int   `yaml:"requests_per_second"`       // per client; nil = default 100; 0 = no limit per client
	Burst                  int    `yaml:"burst"`                     // per client; default 1000
	TotalRequestsPerSecond *int   `yaml:"total_requests_per_second"` // all clients; nil = default 500; 0 = no overall limit
	TotalBurst             int    `yaml:"total_burst"`               // all clients; default 2000
	MaxClients             int    `yaml:"max_clients"`               // default 10000
	ClientIPHeader         string `yaml:"client_ip_header"`          // "" = the TCP peer
}

// Defaults of backchannel_logout_rate_limit. An identity provider sends
// one request per ended session and client, so a mass logout arrives as a
// burst from a few addresses; a refused signature check costs about
// 0.1 ms of CPU, so the overall default bounds a flood to a few percent
// of one core.
const (
	DefaultLogoutRateLimitRequestsPerSecond = 100
	DefaultLogoutRateLimitBurst             = 1000
	DefaultLogoutRateLimitTotalPerSecond    = 500
	DefaultLogoutRateLimitTotalBurst        = 2000
)

func (r *BackchannelLogoutRateLimit) applyDefaults() {
	if r.RequestsPerSecond == nil {
		v := DefaultLogoutRateLimitRequestsPerSecond
		r.RequestsPerSecond = &v
	}
	if r.TotalRequestsPerSecond == nil {
		v := DefaultLogoutRateLimitTotalPerSecond
		r.TotalRequestsPerSecond = &v
	}
	if r.Burst == 0 {
		r.Burst = DefaultLogoutRateLimitBurst
	}
	if r.TotalBurst == 0 {
		r.TotalBurst = DefaultLogoutRateLimitTotalBurst
	}
	if r.MaxClients == 0 {
		r.MaxClients = DefaultRateLimitMaxClients
	}
}

// PerClient returns requests_per_second, or its default when unset. Zero
// means no limit per client.
func (r *BackchannelLogoutRateLimit) PerClient() int {
	if r.RequestsPerSecond == nil {
		return DefaultLogoutRateLimitRequestsPerSecond
	}
	return *r.RequestsPerSecond
}

// Total returns total_requests_per_second, or its default when unset. Zero
// means no overall limit.
func (r *BackchannelLogoutRateLimit) Total() int {
	if r.TotalRequestsPerSecond == nil {
		return DefaultLogoutRateLimitTotalPerSecond
	}
	return *r.TotalRequestsPerSecond
}

func (c *Config) validateBackchannelLogoutRateLimit(p *problems) {
	r := c.BackchannelLogoutRateLimit
	const key = "backchannel_logout_rate_limit."
	for _, v := range []struct {
		name string
		n    int
	}{{"requests_per_second", r.PerClient()}, {"total_requests_per_second", r.Total()}} {
		if v.n < 0 || v.n > 1_000_000 {
			p.add(key+v.name, "must be between 0 (no limit) and 1000000")
		}
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"burst", r.Burst}, {"total_burst", r.TotalBurst}} {
		if v.n < 1 || v.n > 1_000_000 {
			p.add(key+v.name, "must be between 1 and 1000000")
		}
	}
	if r.MaxClients < 1 || r.MaxClients > maxRateLimitClients {
		p.add(key+"max_clients", "must be between 1 and %d", maxRateLimitClients)
	}
	if h := r.ClientIPHeader; h != "" {
		if msg := headerNameProblem(h); msg != "" {
			p.add(key+"client_ip_header", "%s", msg)
		}
	}
}
