package config

import (
	"net"
	"path/filepath"
	"time"
)

// SelfProvider is the name of the provider that exists implicitly while the
// built-in issuer is enabled. Rules and issuer.exchange_providers may name it;
// a configured provider may not use it while the issuer is enabled.
const SelfProvider = "self"

// Revocation store backends accepted by revocation.store.
const (
	StoreMemory = "memory"
	StoreBolt   = "bolt"
	StoreRedis  = "redis"
)

// Defaults of the top-level keys.
const (
	DefaultGRPCAddr      = "127.0.0.1:9001"
	DefaultHTTPAddr      = "127.0.0.1:8080"
	DefaultAdminAddr     = "127.0.0.1:9090"
	DefaultDataDir       = "./data"
	DefaultLogLevel      = "info"
	DefaultLogFormat     = "json"
	DefaultMaxTokenBytes = 8192
	// DefaultProcTuning runs the scheduler on one processor while one is
	// enough for the load (ProcTuningAuto).
	DefaultProcTuning = ProcTuningAuto
	// DefaultShutdownDelay is zero so that a local run stops at once; the
	// Helm chart sets 5s so that Envoy stops routing before the listeners
	// close.
	DefaultShutdownDelay time.Duration = 0
	// DefaultTokenSourceHeader is the only token source used when
	// token_sources is not set: "Authorization: Bearer <jwt>".
	DefaultTokenSourceHeader = "authorization"
	// DefaultTokenCacheEntries bounds the verified-token cache.
	DefaultTokenCacheEntries = 100000
	// DefaultPathNormalization refuses ambiguous request paths.
	DefaultPathNormalization = PathNormalizationReject
)

// Values of providers[].mtls_bound.
const (
	// MTLSBoundAllowed accepts unbound tokens; a certificate-bound one
	// needs its certificate.
	MTLSBoundAllowed = "allowed"
	// MTLSBoundRequired refuses tokens that are not certificate-bound.
	MTLSBoundRequired = "required"
)

// Defaults of decision_log.
const (
	DefaultDecisionLogSampleAllow = 0.01
	DefaultDecisionLogSampleDeny  = 1.0
)

// Values of path_normalization.
const (
	// PathNormalizationReject answers ambiguous paths 400 before any rule.
	PathNormalizationReject = "reject"
	// PathNormalizationEnvoy resolves them as Envoy's normalize_path does.
	PathNormalizationEnvoy = "envoy"
)

// Defaults of token_endpoint_rate_limit: generous for one client, and for
// the few addresses of proxies that many clients share.
const (
	DefaultRateLimitRequestsPerSecond = 50
	DefaultRateLimitBurst             = 100
	DefaultRateLimitMaxClients        = 10000
)

// Values of proc_tuning.
const (
	ProcTuningAuto = "auto" // one processor while one is enough, the runtime's default otherwise
	ProcTuningOff  = "off"  // always the runtime's default
)

// Defaults of every entry of providers.
const (
	DefaultClockSkew              = 30 * time.Second
	DefaultRequireExp             = true
	DefaultJWKSRefreshInterval    = 5 * time.Minute
	DefaultJWKSMinRefreshInterval = 30 * time.Second
	DefaultJWKSMaxStale           = 24 * time.Hour
	DefaultKeepAuthorization      = true
)

// Defaults of the revocation section.
const (
	DefaultRevocationStore = StoreBolt
	DefaultMaxStaleness    = 5 * time.Minute
	DefaultSyncInterval    = 30 * time.Second
	// BoltFileName is the bbolt file created in data_dir when
	// revocation.bolt_path is not set.
	BoltFileName = "jwt-authz.db"
)

// Defaults of the issuer section.
const (
	DefaultIssuerEnabled      = true
	DefaultIssuerAudience     = "jwt-authz"
	DefaultIssuerAlgorithm    = "EdDSA"
	DefaultAccessTokenTTL     = 5 * time.Minute
	DefaultRefreshTokenTTL    = 336 * time.Hour
	DefaultRefreshReuseGrace  = time.Duration(0)
	DefaultSessionMaxLifetime = 720 * time.Hour
	// SigningKeyFileName is the PEM file created in data_dir when
	// issuer.signing_key_file is not set.
	SigningKeyFileName = "signing-key.pem"
)

// DefaultAlgorithms returns the algorithms a provider accepts when its
// algorithms key is not set: every asymmetric JWS algorithm. HS* and "none"
// are never accepted, because a JWKS publishes keys that anyone can read.
func DefaultAlgorithms() []string {
	return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
}

// IssuerAlgorithms returns the algorithms the built-in issuer can sign with.
func IssuerAlgorithms() []string {
	return []string{"EdDSA", "ES256", "RS256"}
}

// DefaultExchangeClaims returns the claims carried over from an exchanged
// token into the new session's access tokens when issuer.exchange_claims is
// not set.
func DefaultExchangeClaims() []string {
	return []string{"sub", "scope", "email"}
}

// Default returns the configuration of an empty file: no configured
// providers, the built-in issuer enabled (so the implicit "self" provider
// is the one provider), a bbolt revocation store in the data directory and
// every listener on 127.0.0.1. `serve` without --config runs on Embedded,
// which adds to it.
func Default() *Config {
	c := &Config{}
	c.ApplyDefaults()
	return c
}

// Embedded returns what the embedded default sets beyond the defaults of
// every key, before environment overrides and ApplyDefaults: the "self"
// provider's sub claim forwarded as x-jwt-sub, so that a service started
// without a file shows who called. A config file starts from the key
// defaults instead (issuer.forward_claims {}).
func Embedded() *Config {
	return &Config{Issuer: Issuer{ForwardClaims: map[string]string{"sub": "x-jwt-sub"}}}
}

// ApplyDefaults fills every unset field with its default: empty strings, nil
// slices and pointers, and zero numbers and durations of keys where zero is
// not a usable setting. It keeps explicit empty lists (they are validated as
// written) and zero values that are meaningful: clock_skew, jwks_max_stale,
// max_lifetime, refresh_reuse_grace, shutdown_delay and
// token_cache.max_entries. Load and Parse give those keys their defaults when
// the YAML leaves them out; a Provider built in Go starts with zero skew and
// no stale keys.
//
// issuer.issuer, when unset, is derived from http_addr, so set http_addr (and
// apply environment overrides) before calling ApplyDefaults. ApplyDefaults is
// idempotent.
func (c *Config) ApplyDefaults() {
	setString(&c.GRPCAddr, DefaultGRPCAddr)
	setString(&c.HTTPAddr, DefaultHTTPAddr)
	setString(&c.AdminAddr, DefaultAdminAddr)
	setString(&c.DataDir, DefaultDataDir)
	setString(&c.LogLevel, DefaultLogLevel)
	setString(&c.LogFormat, DefaultLogFormat)
	setString(&c.PathNormalization, DefaultPathNormalization)
	setString(&c.ProcTuning, DefaultProcTuning)
	if c.MaxTokenBytes == 0 {
		c.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if c.TokenSources == nil {
		c.TokenSources = []TokenSource{{Header: DefaultTokenSourceHeader}}
	}
	for i := range c.Providers {
		c.Providers[i].applyDefaults()
	}
	c.Issuer.applyDPoPDefaults()
	if c.TokenCache.MaxEntries == nil {
		n := DefaultTokenCacheEntries
		c.TokenCache.MaxEntries = &n
	}
	c.TokenEndpointRateLimit.applyDefaults()
	c.BackchannelLogoutRateLimit.applyDefaults()
	c.Revocation.applyDefaults()
	c.Issuer.applyDefaults(c.HTTPAddr)
	c.GRPC.applyDefaults()
	c.HTTP.applyDefaults()
	c.DecisionLog.applyDefaults()
}

func (d *DecisionLog) applyDefaults() {
	if d.SampleAllow == nil {
		v := DefaultDecisionLogSampleAllow
		d.SampleAllow = &v
	}
	if d.SampleDeny == nil {
		v := DefaultDecisionLogSampleDeny
		d.SampleDeny = &v
	}
}

func (r *TokenEndpointRateLimit) applyDefaults() {
	if r.RequestsPerSecond == nil {
		v := DefaultRateLimitRequestsPerSecond
		r.RequestsPerSecond = &v
	}
	if r.Burst == 0 {
		r.Burst = DefaultRateLimitBurst
	}
	if r.MaxClients == 0 {
		r.MaxClients = DefaultRateLimitMaxClients
	}
}

// RateLimitPerSecond returns token_endpoint_rate_limit.requests_per_second,
// or its default when unset. Zero means no limit.
func (r *TokenEndpointRateLimit) RateLimitPerSecond() int {
	if r.RequestsPerSecond == nil {
		return DefaultRateLimitRequestsPerSecond
	}
	return *r.RequestsPerSecond
}

func (p *Provider) applyDefaults() {
	setString(&p.MTLSBound, MTLSBoundAllowed)
	p.applyDPoPDefaults()
	if p.Algorithms == nil {
		p.Algorithms = DefaultAlgorithms()
	}
	setDuration(&p.JWKSRefreshInterval, DefaultJWKSRefreshInterval)
	// A refresh interval below the default floor lowers the floor with it,
	// so that setting only jwks_refresh_interval: 10s is valid.
	setDuration(&p.JWKSMinRefreshInterval, min(DefaultJWKSMinRefreshInterval, p.JWKSRefreshInterval))
}

func (r *Revocation) applyDefaults() {
	setString(&r.Store, DefaultRevocationStore)
	setDuration(&r.MaxStaleness, DefaultMaxStaleness)
	setDuration(&r.SyncInterval, DefaultSyncInterval)
}

func (is *Issuer) applyDefaults(httpAddr string) {
	if is.Enabled == nil {
		enabled := DefaultIssuerEnabled
		is.Enabled = &enabled
	}
	setString(&is.Issuer, issuerURLFromAddr(httpAddr))
	if is.Audiences == nil {
		is.Audiences = []string{DefaultIssuerAudience}
	}
	setString(&is.Algorithm, DefaultIssuerAlgorithm)
	setDuration(&is.AccessTokenTTL, DefaultAccessTokenTTL)
	setDuration(&is.RefreshTokenTTL, DefaultRefreshTokenTTL)
	setDuration(&is.SessionMaxLifetime, DefaultSessionMaxLifetime)
	if is.ExchangeClaims == nil {
		is.ExchangeClaims = DefaultExchangeClaims()
	}
}

// issuerURLFromAddr derives the default issuer URL from http_addr. A wildcard
// or empty host becomes 127.0.0.1: "http://0.0.0.0:8080" would name no
// reachable server. Clusters set issuer.issuer to the Service URL instead.
func issuerURLFromAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if isWildcardHost(host) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func setString(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// KeepAuthorizationOrDefault reports whether the Authorization header is kept
// on requests allowed with a token of the built-in issuer.
func (is *Issuer) KeepAuthorizationOrDefault() bool {
	if is.KeepAuthorization == nil {
		return DefaultKeepAuthorization
	}
	return *is.KeepAuthorization
}

// IssuerEnabled reports whether the built-in issuer (and with it the token
// endpoint and the implicit "self" provider) is enabled. Unset means enabled.
func (c *Config) IssuerEnabled() bool {
	return c.Issuer.Enabled == nil || *c.Issuer.Enabled
}

// BoltPath returns revocation.bolt_path, or <data_dir>/jwt-authz.db when it
// is not set.
func (c *Config) BoltPath() string {
	if c.Revocation.BoltPath != "" {
		return c.Revocation.BoltPath
	}
	return filepath.Join(c.dataDir(), BoltFileName)
}

// SigningKeyPath returns issuer.signing_key_file, or
// <data_dir>/signing-key.pem when it is not set.
func (c *Config) SigningKeyPath() string {
	if c.Issuer.SigningKeyFile != "" {
		return c.Issuer.SigningKeyFile
	}
	return filepath.Join(c.dataDir(), SigningKeyFileName)
}

func (c *Config) dataDir() string {
	if c.DataDir == "" {
		return DefaultDataDir
	}
	return c.DataDir
}

// TokenCacheEntries returns the size of the verified-token cache: the
// configured token_cache.max_entries, or DefaultTokenCacheEntries when unset.
// Zero disables the cache; a negative value (rejected by Validate) counts as
// zero.
func (c *Config) TokenCacheEntries() int {
	if c.TokenCache.MaxEntries == nil {
		return DefaultTokenCacheEntries
	}
	return max(*c.TokenCache.MaxEntries, 0)
}

// RequireExpOrDefault reports whether tokens of this provider must carry an
// exp claim. Unset means true.
func (p *Provider) RequireExpOrDefault() bool {
	if p.RequireExp == nil {
		return DefaultRequireExp
	}
	return *p.RequireExp
}

// KeepAuthorizationOrDefault reports whether the Authorization header is kept
// on allowed requests. Unset means true.
func (p *Provider) KeepAuthorizationOrDefault() bool {
	if p.KeepAuthorization == nil {
		return DefaultKeepAuthorization
	}
	return *p.KeepAuthorization
}
