package config

import "time"

// Config is the whole configuration of jwt-authz, as read from YAML. Field
// names follow the YAML keys of the config file; every key is listed in
// CONFIGURATION.md with its default.
type Config struct {
	GRPCAddr  string `yaml:"grpc_addr"`
	HTTPAddr  string `yaml:"http_addr"`
	AdminAddr string `yaml:"admin_addr"`
	// MetricsAddr, when set, is a listener that serves only /metrics; empty
	// leaves /metrics on AdminAddr alone.
	MetricsAddr         string        `yaml:"metrics_addr"`
	AdminTokenFile      string        `yaml:"admin_token_file"`
	DataDir             string        `yaml:"data_dir"`
	LogLevel            string        `yaml:"log_level"`  // debug | info | warn | error (default info)
	LogFormat           string        `yaml:"log_format"` // json | text (default json)
	ShutdownDelay       time.Duration `yaml:"shutdown_delay"`
	MaxTokenBytes       int           `yaml:"max_token_bytes"` // default 8192
	ProcTuning          string        `yaml:"proc_tuning"`     // auto | off (default auto)
	Providers           []Provider    `yaml:"providers"`
	DryRun              bool          `yaml:"dry_run"`
	BypassCORSPreflight bool          `yaml:"bypass_cors_preflight"`
	PathNormalization   string        `yaml:"path_normalization"` // reject | envoy (default reject)
	// ForwardAuthClientCertHeader names the header a forward-auth proxy
	// sends the client certificate in (Envoy XFCC or a URL-encoded PEM),
	// for certificate-bound tokens; "" reads none.
	ForwardAuthClientCertHeader string `yaml:"forward_auth_client_cert_header"`
	// DPoPNonceKeyFile holds the key DPoP server nonces are made with,
	// shared by replicas (see config/dpop.go).
	DPoPNonceKeyFile string        `yaml:"dpop_nonce_key_file"`
	TokenSources     []TokenSource `yaml:"token_sources"`
	Rules            []Rule        `yaml:"rules"`
	TokenCache       TokenCache    `yaml:"token_cache"`
	// TokenEndpointRateLimit limits the token endpoints of http_addr per
	// client address.
	TokenEndpointRateLimit TokenEndpointRateLimit `yaml:"token_endpoint_rate_limit"`
	Revocation             Revocation             `yaml:"revocation"`
	Issuer                 Issuer                 `yaml:"issuer"`
	GRPC                   GRPC                   `yaml:"grpc"`
	HTTP                   HTTP                   `yaml:"http"`
	DecisionLog            DecisionLog            `yaml:"decision_log"`
	Tracing                Tracing                `yaml:"tracing"`

	// BackchannelLogoutRateLimit limits POST /oidc/backchannel-logout per
	// client address and overall (see config/backchannel.go).
	BackchannelLogoutRateLimit BackchannelLogoutRateLimit `yaml:"backchannel_logout_rate_limit"`
}

// DecisionLog configures the log of Check decisions: one JSON line per
// sampled decision, never with a token or claims.
type DecisionLog struct {
	Enabled     bool     `yaml:"enabled"`
	Path        string   `yaml:"path"`         // "" = stderr
	SampleAllow *float64 `yaml:"sample_allow"` // nil = default 0.01
	SampleDeny  *float64 `yaml:"sample_deny"`  // nil = default 1.0
}

// Provider is one trusted token issuer.
type Provider struct {
	Name                   string            `yaml:"name"`
	Issuer                 string            `yaml:"issuer"`
	Audiences              []string          `yaml:"audiences"`
	JWKSURI                string            `yaml:"jwks_uri"`
	Discovery              bool              `yaml:"discovery"`
	JWKSFile               string            `yaml:"jwks_file"`
	Algorithms             []string          `yaml:"algorithms"`
	ClockSkew              time.Duration     `yaml:"clock_skew"`
	RequireExp             *bool             `yaml:"require_exp"` // nil = default true
	MaxLifetime            time.Duration     `yaml:"max_lifetime"`
	Typ                    string            `yaml:"typ"`
	JWKSRefreshInterval    time.Duration     `yaml:"jwks_refresh_interval"`
	JWKSMinRefreshInterval time.Duration     `yaml:"jwks_min_refresh_interval"`
	JWKSMaxStale           time.Duration     `yaml:"jwks_max_stale"`
	AllowHTTP              bool              `yaml:"allow_http"`
	ForwardClaims          map[string]string `yaml:"forward_claims"`
	ForwardPayloadHeader   string            `yaml:"forward_payload_header"`
	KeepAuthorization      *bool             `yaml:"keep_authorization"` // nil = default true
	Optional               bool              `yaml:"optional"`           // true: does not gate readiness
	MTLSBound              string            `yaml:"mtls_bound"`         // allowed | required (default allowed)
	// DPoP, DPoPProofMaxAge and DPoPNonce: see config/dpop.go.
	DPoP              string            `yaml:"dpop"`               // allowed | required (default allowed)
	DPoPProofMaxAge   time.Duration     `yaml:"dpop_proof_max_age"` // default 60s
	DPoPNonce         bool              `yaml:"dpop_nonce"`
	BackchannelLogout BackchannelLogout `yaml:"backchannel_logout"`
}

// TokenSource names one place a token is looked for; exactly one field is set.
type TokenSource struct {
	Header string `yaml:"header"`
	Cookie string `yaml:"cookie"`
	Query  string `yaml:"query"`
}

// Rule is one authorization rule; the first rule whose Match fits applies.
type Rule struct {
	Match          Match             `yaml:"match"`
	AllowAnonymous bool              `yaml:"allow_anonymous"`
	DryRun         bool              `yaml:"dry_run"`
	Providers      []string          `yaml:"providers"`
	RequireScopes  []string          `yaml:"require_scopes"`
	RequireClaims  map[string]string `yaml:"require_claims"`
}

// Match selects the requests a Rule applies to; empty fields match anything.
// PathPrefix matches whole path segments; Path matches one exact path.
type Match struct {
	PathPrefix string   `yaml:"path_prefix"`
	Path       string   `yaml:"path"`
	Methods    []string `yaml:"methods"`
	Host       string   `yaml:"host"`
}

// TokenEndpointRateLimit is a token bucket per client address in front of
// /oauth2/token, /token/refresh, /oauth2/revoke and /oauth2/introspect on
// http_addr.
type TokenEndpointRateLimit struct {
	RequestsPerSecond *int   `yaml:"requests_per_second"` // nil = default 50; 0 disables the limit
	Burst             int    `yaml:"burst"`               // default 100
	MaxClients        int    `yaml:"max_clients"`         // default 10000
	ClientIPHeader    string `yaml:"client_ip_header"`    // "" = the TCP peer
}

// TokenCache configures the verified-token cache.
type TokenCache struct {
	MaxEntries *int `yaml:"max_entries"` // nil = default 100000; 0 disables
}

// Revocation configures the revocation store.
type Revocation struct {
	Store    string `yaml:"store"` // memory | bolt | redis
	BoltPath string `yaml:"bolt_path"`
	RedisURL string `yaml:"redis_url"`
	// RedisSentinel names a Sentinel-managed primary instead of RedisURL;
	// nil when the key is absent.
	RedisSentinel *RedisSentinel `yaml:"redis_sentinel"`
	// RedisCluster names a Redis Cluster instead of RedisURL; nil when the
	// key is absent.
	RedisCluster  *RedisCluster `yaml:"redis_cluster"`
	RedisUsername string        `yaml:"redis_username"` // ACL user of the data nodes
	MaxStaleness  time.Duration `yaml:"max_staleness"`
	SyncInterval  time.Duration `yaml:"sync_interval"` // redis: full resync period (default 30s)
}

// RedisSentinel is a primary found through Redis Sentinel.
type RedisSentinel struct {
	MasterName           string   `yaml:"master_name"`
	Addrs                []string `yaml:"addrs"`                  // sentinel host:port list
	PasswordFile         string   `yaml:"password_file"`          // the data nodes' password
	SentinelPasswordFile string   `yaml:"sentinel_password_file"` // the sentinels' own password
	TLS                  bool     `yaml:"tls"`
}

// RedisCluster is a Redis Cluster reached through seed nodes.
type RedisCluster struct {
	Addrs        []string `yaml:"addrs"` // seed host:port list
	PasswordFile string   `yaml:"password_file"`
	TLS          bool     `yaml:"tls"`
}

// Issuer configures the built-in token issuer and token endpoint.
type Issuer struct {
	Enabled            *bool         `yaml:"enabled"` // nil = default true
	Issuer             string        `yaml:"issuer"`
	Audiences          []string      `yaml:"audiences"`
	Algorithm          string        `yaml:"algorithm"`
	SigningKeyFile     string        `yaml:"signing_key_file"`
	PreviousKeyFiles   []string      `yaml:"previous_key_files"`
	AccessTokenTTL     time.Duration `yaml:"access_token_ttl"`
	RefreshTokenTTL    time.Duration `yaml:"refresh_token_ttl"`
	RefreshReuseGrace  time.Duration `yaml:"refresh_reuse_grace"`
	SessionMaxLifetime time.Duration `yaml:"session_max_lifetime"`
	ExchangeProviders  []string      `yaml:"exchange_providers"`
	ExchangeClaims     []string      `yaml:"exchange_claims"` // claims carried over on token exchange (default sub scope email)
	// ForwardClaims, ForwardPayloadHeader and KeepAuthorization are those
	// of providers[] for the implicit "self" provider's tokens.
	ForwardClaims        map[string]string `yaml:"forward_claims"`
	ForwardPayloadHeader string            `yaml:"forward_payload_header"`
	KeepAuthorization    *bool             `yaml:"keep_authorization"` // nil = default true
	// DPoP, DPoPProofMaxAge and DPoPNonce are those of providers[] for the
	// "self" provider's tokens, and rule the token endpoint's proofs.
	DPoP            string        `yaml:"dpop"`
	DPoPProofMaxAge time.Duration `yaml:"dpop_proof_max_age"`
	DPoPNonce       bool          `yaml:"dpop_nonce"`
}
