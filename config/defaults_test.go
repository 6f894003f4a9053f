package config

import (
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

func typeOfConfig() reflect.Type { return reflect.TypeFor[Config]() }

func TestDefault(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate: %v", err)
	}
	checks := map[string]struct{ got, want any }{
		"grpc_addr":                     {c.GRPCAddr, DefaultGRPCAddr},
		"http_addr":                     {c.HTTPAddr, DefaultHTTPAddr},
		"admin_addr":                    {c.AdminAddr, DefaultAdminAddr},
		"data_dir":                      {c.DataDir, DefaultDataDir},
		"log_level":                     {c.LogLevel, "info"},
		"log_format":                    {c.LogFormat, "json"},
		"shutdown_delay":                {c.ShutdownDelay, time.Duration(0)},
		"max_token_bytes":               {c.MaxTokenBytes, 8192},
		"proc_tuning":                   {c.ProcTuning, "auto"},
		"providers":                     {len(c.Providers), 0},
		"dry_run":                       {c.DryRun, false},
		"bypass_cors_preflight":         {c.BypassCORSPreflight, false},
		"token_sources":                 {c.TokenSources, []TokenSource{{Header: "authorization"}}},
		"token_cache.max_entries":       {c.TokenCacheEntries(), 100000},
		"revocation.store":              {c.Revocation.Store, StoreBolt},
		"revocation.max_staleness":      {c.Revocation.MaxStaleness, 5 * time.Minute},
		"revocation.sync_interval":      {c.Revocation.SyncInterval, 30 * time.Second},
		"bolt path":                     {c.BoltPath(), filepath.Join("data", "jwt-authz.db")},
		"issuer.enabled":                {c.IssuerEnabled(), true},
		"issuer.issuer":                 {c.Issuer.Issuer, "http://127.0.0.1:8080"},
		"issuer.audiences":              {c.Issuer.Audiences, []string{"jwt-authz"}},
		"issuer.algorithm":              {c.Issuer.Algorithm, "EdDSA"},
		"signing key path":              {c.SigningKeyPath(), filepath.Join("data", "signing-key.pem")},
		"issuer.access_token_ttl":       {c.Issuer.AccessTokenTTL, 5 * time.Minute},
		"issuer.refresh_token_ttl":      {c.Issuer.RefreshTokenTTL, 336 * time.Hour},
		"issuer.refresh_reuse_grace":    {c.Issuer.RefreshReuseGrace, time.Duration(0)},
		"issuer.session_max_lifetime":   {c.Issuer.SessionMaxLifetime, 720 * time.Hour},
		"issuer.exchange_claims":        {c.Issuer.ExchangeClaims, []string{"sub", "scope", "email"}},
		"issuer.exchange_providers":     {len(c.Issuer.ExchangeProviders), 0},
		"issuer.previous_key_files":     {len(c.Issuer.PreviousKeyFiles), 0},
		"issuer.signing_key_file unset": {c.Issuer.SigningKeyFile, ""},
	}
	for name, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", name, ch.got, ch.want)
		}
	}
}

func TestApplyDefaultsIdempotent(t *testing.T) {
	c := validConfig()
	c.Providers[0].ClockSkew = 0
	before := *c
	before.Providers = slices.Clone(c.Providers)
	c.ApplyDefaults()
	if !reflect.DeepEqual(*c, before) {
		t.Errorf("second ApplyDefaults changed the config:\n%+v\nwant\n%+v", *c, before)
	}
	if c.Providers[0].ClockSkew != 0 {
		t.Error("ApplyDefaults replaced an explicit zero clock_skew")
	}
}

func TestApplyDefaultsProvider(t *testing.T) {
	tests := map[string]struct {
		in      Provider
		refresh time.Duration
		min     time.Duration
	}{
		"unset":                {Provider{}, DefaultJWKSRefreshInterval, DefaultJWKSMinRefreshInterval},
		"short refresh lowers": {Provider{JWKSRefreshInterval: 10 * time.Second}, 10 * time.Second, 10 * time.Second},
		"explicit min kept":    {Provider{JWKSMinRefreshInterval: time.Minute}, DefaultJWKSRefreshInterval, time.Minute},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := &Config{Providers: []Provider{tt.in}}
			c.ApplyDefaults()
			p := c.Providers[0]
			if p.JWKSRefreshInterval != tt.refresh || p.JWKSMinRefreshInterval != tt.min {
				t.Errorf("refresh %v min %v, want %v %v", p.JWKSRefreshInterval, p.JWKSMinRefreshInterval, tt.refresh, tt.min)
			}
			if !slices.Equal(p.Algorithms, DefaultAlgorithms()) {
				t.Errorf("algorithms = %v", p.Algorithms)
			}
		})
	}
}

func TestAccessors(t *testing.T) {
	no, yes, zero, neg := false, true, 0, -5
	tests := map[string]struct{ got, want any }{
		"require_exp unset":         {(&Provider{}).RequireExpOrDefault(), true},
		"require_exp false":         {(&Provider{RequireExp: &no}).RequireExpOrDefault(), false},
		"keep_authorization unset":  {(&Provider{}).KeepAuthorizationOrDefault(), true},
		"keep_authorization false":  {(&Provider{KeepAuthorization: &no}).KeepAuthorizationOrDefault(), false},
		"issuer enabled unset":      {(&Config{}).IssuerEnabled(), true},
		"issuer enabled true":       {(&Config{Issuer: Issuer{Enabled: &yes}}).IssuerEnabled(), true},
		"issuer disabled":           {(&Config{Issuer: Issuer{Enabled: &no}}).IssuerEnabled(), false},
		"cache unset":               {(&Config{}).TokenCacheEntries(), DefaultTokenCacheEntries},
		"cache disabled":            {(&Config{TokenCache: TokenCache{MaxEntries: &zero}}).TokenCacheEntries(), 0},
		"cache negative":            {(&Config{TokenCache: TokenCache{MaxEntries: &neg}}).TokenCacheEntries(), 0},
		"bolt path from data_dir":   {(&Config{DataDir: "/var/lib/x"}).BoltPath(), "/var/lib/x/jwt-authz.db"},
		"bolt path explicit":        {(&Config{DataDir: "/d", Revocation: Revocation{BoltPath: "/b.db"}}).BoltPath(), "/b.db"},
		"signing key from data_dir": {(&Config{DataDir: "/var/lib/x"}).SigningKeyPath(), "/var/lib/x/signing-key.pem"},
		"signing key without dir":   {(&Config{}).SigningKeyPath(), filepath.Join(DefaultDataDir, SigningKeyFileName)},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestIssuerURLFromAddr(t *testing.T) {
	tests := map[string]string{
		"127.0.0.1:8080":  "http://127.0.0.1:8080",
		"0.0.0.0:8080":    "http://127.0.0.1:8080",
		":8080":           "http://127.0.0.1:8080",
		"[::]:8080":       "http://127.0.0.1:8080",
		"[::1]:8080":      "http://[::1]:8080",
		"jwt-authz.ns:80": "http://jwt-authz.ns:80",
	}
	for addr, want := range tests {
		t.Run(addr, func(t *testing.T) {
			if got := issuerURLFromAddr(addr); got != want {
				t.Errorf("issuerURLFromAddr(%q) = %q, want %q", addr, got, want)
			}
		})
	}
}

func TestDefaultListsAreCopies(t *testing.T) {
	a := DefaultAlgorithms()
	a[0] = "HS256"
	if DefaultAlgorithms()[0] != "RS256" {
		t.Error("DefaultAlgorithms shares its backing array")
	}
	c1, c2 := Default(), Default()
	c1.Issuer.ExchangeClaims[0] = "changed"
	if c2.Issuer.ExchangeClaims[0] != "sub" {
		t.Error("Default configs share the exchange_claims slice")
	}
}
