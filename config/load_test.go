package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/invalid-*.golden from the current output")

// TestParseInvalidGolden parses every testdata/invalid-*.yaml and compares
// the error text with the paired .golden file.
func TestParseInvalidGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "invalid-*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/invalid-*.yaml fixtures")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(data)
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if c != nil {
				t.Error("Parse returned a Config along with an error")
			}
			assertFieldErrors(t, err)
			matchGolden(t, file, err.Error()+"\n")
		})
	}
}

// assertFieldErrors checks that err joins only *FieldError values with
// non-empty messages.
func assertFieldErrors(t *testing.T, err error) {
	t.Helper()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T is not a joined error", err)
	}
	for _, e := range joined.Unwrap() {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Errorf("problem %q is a %T, want *FieldError", e, e)
			continue
		}
		if fe.Msg == "" {
			t.Errorf("problem at %q has an empty message", fe.Path)
		}
	}
}

func TestParseSecretsNotEchoed(t *testing.T) {
	for _, file := range []string{"invalid-revocation.yaml", "invalid-redis-url.yaml", "invalid-key-source.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Parse(data)
		if err == nil {
			t.Fatalf("%s: Parse succeeded", file)
		}
		for _, secret := range []string{"hunter2", "secret"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error repeats the secret %q:\n%v", file, secret, err)
			}
		}
	}
}

func TestParseValidFull(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "valid-full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	no, yes := false, true
	entries := 5000
	rateLimit := 5
	logoutRate, logoutTotal := 20, 100
	half, zero := 0.5, 0.0
	want := &Config{
		GRPCAddr:       "127.0.0.1:19001",
		HTTPAddr:       "127.0.0.1:18080",
		AdminAddr:      "127.0.0.1:19090",
		MetricsAddr:    "127.0.0.1:19091",
		AdminTokenFile: "/etc/jwt-authz/admin-token",
		DataDir:        "/var/lib/jwt-authz",
		LogLevel:       "debug",
		LogFormat:      "text",
		ShutdownDelay:  5 * time.Second,
		MaxTokenBytes:  16384,
		ProcTuning:     "off",
		Providers: []Provider{
			{
				Name:                   "corp",
				Issuer:                 "https://idp.example.com/",
				Audiences:              []string{"orders-api"},
				JWKSURI:                "https://idp.example.com/.well-known/jwks.json",
				Algorithms:             []string{"RS256", "ES256"},
				ClockSkew:              10 * time.Second,
				RequireExp:             &no,
				MaxLifetime:            24 * time.Hour,
				Typ:                    "at+jwt",
				JWKSRefreshInterval:    10 * time.Minute,
				JWKSMinRefreshInterval: time.Minute,
				JWKSMaxStale:           12 * time.Hour,
				AllowHTTP:              true,
				ForwardClaims:          map[string]string{"sub": "x-jwt-sub", "realm_access.roles": "x-jwt-roles"},
				ForwardPayloadHeader:   "x-jwt-payload",
				KeepAuthorization:      &no,
				Optional:               true,
				MTLSBound:              MTLSBoundRequired,
				DPoP:                   DPoPRequired,
				DPoPProofMaxAge:        30 * time.Second,
				DPoPNonce:              true,
				BackchannelLogout:      BackchannelLogout{Enabled: true, Audience: "orders-gateway"},
			},
			{
				Name:                   "google",
				Issuer:                 "https://accounts.google.com",
				Discovery:              true,
				Algorithms:             DefaultAlgorithms(),
				ClockSkew:              DefaultClockSkew,
				JWKSRefreshInterval:    DefaultJWKSRefreshInterval,
				JWKSMinRefreshInterval: DefaultJWKSMinRefreshInterval,
				JWKSMaxStale:           DefaultJWKSMaxStale,
				MTLSBound:              MTLSBoundAllowed,
				DPoP:                   DPoPAllowed,
				DPoPProofMaxAge:        DefaultDPoPProofMaxAge,
			},
			{
				Name:                   "local",
				Issuer:                 "local-test",
				JWKSFile:               "/etc/jwt-authz/keys.json",
				Algorithms:             DefaultAlgorithms(),
				ClockSkew:              DefaultClockSkew,
				JWKSRefreshInterval:    DefaultJWKSRefreshInterval,
				JWKSMinRefreshInterval: DefaultJWKSMinRefreshInterval,
				JWKSMaxStale:           DefaultJWKSMaxStale,
				MTLSBound:              MTLSBoundAllowed,
				DPoP:                   DPoPAllowed,
				DPoPProofMaxAge:        DefaultDPoPProofMaxAge,
			},
		},
		DryRun:                      true,
		BypassCORSPreflight:         true,
		PathNormalization:           PathNormalizationEnvoy,
		ForwardAuthClientCertHeader: "x-forwarded-client-cert",
		DPoPNonceKeyFile:            "/etc/jwt-authz/dpop-nonce-key",
		TokenSources: []TokenSource{
			{Header: "authorization"},
			{Header: "x-access-token"},
			{Cookie: "access_token"},
			{Query: "access_token"},
		},
		Rules: []Rule{
			{Match: Match{PathPrefix: "/healthz"}, AllowAnonymous: true},
			{Match: Match{PathPrefix: "/beta"}, DryRun: true},
			{Match: Match{Path: "/status"}, AllowAnonymous: true},
			{
				Match:         Match{PathPrefix: "/admin", Methods: []string{"POST", "DELETE"}, Host: "api.example.com"},
				Providers:     []string{"corp", "self"},
				RequireScopes: []string{"admin"},
				RequireClaims: map[string]string{"tenant": "acme"},
			},
		},
		TokenCache: TokenCache{MaxEntries: &entries},
		TokenEndpointRateLimit: TokenEndpointRateLimit{
			RequestsPerSecond: &rateLimit, Burst: 10, MaxClients: 500, ClientIPHeader: "x-forwarded-for",
		},
		BackchannelLogoutRateLimit: BackchannelLogoutRateLimit{
			RequestsPerSecond: &logoutRate, Burst: 200, TotalRequestsPerSecond: &logoutTotal, TotalBurst: 400,
			MaxClients: 1000, ClientIPHeader: "x-real-ip",
		},
		Revocation: Revocation{
			Store:         StoreRedis,
			BoltPath:      "/var/lib/jwt-authz/revocations.db",
			RedisURL:      "rediss://redis.example.com:6380/2",
			RedisUsername: "jwt-authz",
			MaxStaleness:  2 * time.Minute,
			SyncInterval:  time.Minute,
		},
		Issuer: Issuer{
			Enabled:              &yes,
			Issuer:               "https://jwt-authz.example.com",
			Audiences:            []string{"jwt-authz", "orders-api"},
			Algorithm:            "ES256",
			SigningKeyFile:       "/etc/jwt-authz/signing-key.pem",
			PreviousKeyFiles:     []string{"/etc/jwt-authz/previous-key.pem"},
			AccessTokenTTL:       10 * time.Minute,
			RefreshTokenTTL:      168 * time.Hour,
			RefreshReuseGrace:    2 * time.Second,
			SessionMaxLifetime:   1440 * time.Hour,
			ExchangeProviders:    []string{"corp", "google"},
			ExchangeClaims:       []string{"sub", "scope", "email", "tenant"},
			ForwardClaims:        map[string]string{"sub": "x-jwt-sub", "scope": "x-jwt-scope"},
			ForwardPayloadHeader: "x-jwt-payload",
			KeepAuthorization:    &no,
			DPoP:                 DPoPRequired,
			DPoPProofMaxAge:      2 * time.Minute,
			DPoPNonce:            true,
		},
		GRPC: GRPC{
			MaxConcurrentStreams:         500,
			MaxRecvMsgBytes:              1 << 20,
			KeepaliveMinTime:             20 * time.Second,
			KeepalivePermitWithoutStream: &no,
			KeepaliveTime:                time.Minute,
			KeepaliveTimeout:             10 * time.Second,
			MaxConnectionAge:             30 * time.Minute,
		},
		HTTP: HTTP{
			ReadHeaderTimeout: 2 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      20 * time.Second,
			IdleTimeout:       time.Minute,
			MaxHeaderBytes:    32 << 10,
			MaxBodyBytes:      16 << 10,
		},
		DecisionLog: DecisionLog{Enabled: true, Path: "/var/log/jwt-authz/decisions.log", SampleAllow: &half, SampleDeny: &zero},
		Tracing:     Tracing{Enabled: true, Endpoint: "otel-collector.observability:4317", Protocol: "grpc", SampleRatio: &half},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(valid-full.yaml) =\n%+v\nwant\n%+v", got, want)
	}
	if p := got.BoltPath(); p != "/var/lib/jwt-authz/revocations.db" {
		t.Errorf("BoltPath() = %q", p)
	}
	if p := got.SigningKeyPath(); p != "/etc/jwt-authz/signing-key.pem" {
		t.Errorf("SigningKeyPath() = %q", p)
	}
	if n := got.TokenCacheEntries(); n != 5000 {
		t.Errorf("TokenCacheEntries() = %d", n)
	}
}

// TestValidFullSetsEveryKey keeps valid-full.yaml complete: every key of the
// Config types must appear in it, or, for the Redis topologies that exclude
// one another, in valid-redis-sentinel.yaml and valid-redis-cluster.yaml.
func TestValidFullSetsEveryKey(t *testing.T) {
	set := map[string]bool{}
	for _, file := range []string{"valid-full.yaml", "valid-redis-sentinel.yaml", "valid-redis-cluster.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(data); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		root, fe := parseYAML(data)
		if fe != nil {
			t.Fatal(fe)
		}
		d := newDecoder()
		d.value("", root, reflect.ValueOf(&Config{}).Elem())
		for path := range d.lines {
			set[normalizePath(path)] = true
		}
	}
	for _, key := range keyPaths(reflect.TypeFor[Config](), "") {
		if !set[key] {
			t.Errorf("testdata/valid-full.yaml does not set %s", key)
		}
	}
}

func TestParseEmpty(t *testing.T) {
	tests := map[string]string{
		"empty":         "",
		"comments only": "# nothing here\n",
		"null document": "---\n~\n",
		"empty mapping": "{}\n",
		"trailing end":  "---\n",
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Parse([]byte(src))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if want := Default(); !reflect.DeepEqual(got, want) {
				t.Errorf("Parse(%q) = %+v, want Default() %+v", src, got, want)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	data := make([]byte, MaxConfigBytes+1)
	for i := range data {
		data[i] = '#'
	}
	_, err := Parse(data)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Parse(%d bytes) error = %v, want a size error", len(data), err)
	}
}

func TestParseAliasBomb(t *testing.T) {
	// Each level merges the previous one twice: 2^30 expansions unless the
	// decoder bounds its work.
	var b strings.Builder
	b.WriteString("a0: &a0 {grpc_addr: x}\n")
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&b, "a%d: &a%d {<<: [*a%d, *a%d]}\n", i, i, i-1, i-1)
	}
	b.WriteString("issuer: {<<: *a30}\n")
	_, err := Parse([]byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "document too complex") {
		t.Fatalf("Parse error = %v, want a complexity error", err)
	}
}

func TestParseYAMLFeatures(t *testing.T) {
	tests := map[string]struct {
		src   string
		check func(t *testing.T, c *Config)
	}{
		"anchor and alias": {
			src: "providers:\n" +
				"  - name: a\n    issuer: https://a.example.com/\n    jwks_uri: https://a.example.com/jwks\n    audiences: &auds [x, y]\n" +
				"  - name: b\n    issuer: https://b.example.com/\n    jwks_uri: https://b.example.com/jwks\n    audiences: *auds\n",
			check: func(t *testing.T, c *Config) {
				if !reflect.DeepEqual(c.Providers[1].Audiences, []string{"x", "y"}) {
					t.Errorf("audiences = %v", c.Providers[1].Audiences)
				}
			},
		},
		"merge key, own keys win": {
			src: "providers:\n" +
				"  - &base {name: a, issuer: https://a.example.com/, jwks_uri: https://a.example.com/jwks, clock_skew: 5s}\n" +
				"  - {<<: *base, name: b, issuer: https://b.example.com/, clock_skew: 7s}\n",
			check: func(t *testing.T, c *Config) {
				b := c.Providers[1]
				if b.Name != "b" || b.Issuer != "https://b.example.com/" || b.JWKSURI != "https://a.example.com/jwks" || b.ClockSkew != 7*time.Second {
					t.Errorf("merged provider = %+v", b)
				}
			},
		},
		"explicit zero kept": {
			src: "providers: [{name: a, issuer: i, jwks_file: /k, clock_skew: 0s, jwks_max_stale: 0s}]\n",
			check: func(t *testing.T, c *Config) {
				if p := c.Providers[0]; p.ClockSkew != 0 || p.JWKSMaxStale != 0 {
					t.Errorf("clock_skew = %v, jwks_max_stale = %v, want 0", p.ClockSkew, p.JWKSMaxStale)
				}
			},
		},
		"absent keys take defaults": {
			src: "providers: [{name: a, issuer: i, jwks_file: /k, jwks_refresh_interval: 10s}]\n",
			check: func(t *testing.T, c *Config) {
				p := c.Providers[0]
				if p.ClockSkew != DefaultClockSkew || p.JWKSMaxStale != DefaultJWKSMaxStale {
					t.Errorf("clock_skew = %v, jwks_max_stale = %v, want defaults", p.ClockSkew, p.JWKSMaxStale)
				}
				if p.JWKSMinRefreshInterval != 10*time.Second {
					t.Errorf("jwks_min_refresh_interval = %v, want it lowered to the refresh interval", p.JWKSMinRefreshInterval)
				}
				if !p.RequireExpOrDefault() || !p.KeepAuthorizationOrDefault() {
					t.Error("require_exp and keep_authorization must default to true")
				}
			},
		},
		"null values are unset": {
			src: "grpc_addr: ~\ntoken_cache:\nissuer:\n  enabled: null\n",
			check: func(t *testing.T, c *Config) {
				if c.GRPCAddr != DefaultGRPCAddr || c.TokenCacheEntries() != DefaultTokenCacheEntries || !c.IssuerEnabled() {
					t.Errorf("config = %+v, want defaults", c)
				}
			},
		},
		"token cache disabled": {
			src: "token_cache: {max_entries: 0}\n",
			check: func(t *testing.T, c *Config) {
				if n := c.TokenCacheEntries(); n != 0 {
					t.Errorf("TokenCacheEntries() = %d, want 0", n)
				}
			},
		},
		"issuer derived from http_addr": {
			src: "http_addr: 0.0.0.0:18080\n",
			check: func(t *testing.T, c *Config) {
				if c.Issuer.Issuer != "http://127.0.0.1:18080" {
					t.Errorf("issuer.issuer = %q", c.Issuer.Issuer)
				}
			},
		},
		"numbers as strings": {
			src: "rules: [{match: {path_prefix: /x}, require_claims: {tenant: 42}}]\n",
			check: func(t *testing.T, c *Config) {
				if v := c.Rules[0].RequireClaims["tenant"]; v != "42" {
					t.Errorf("require_claims.tenant = %q, want \"42\"", v)
				}
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := Parse([]byte(tt.src))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseLines(t *testing.T) {
	src := "providers:\n" +
		"  - name: corp\n" +
		"    issuer: https://idp.example.com/\n" +
		"    jwks_uri: http://idp.example.com/jwks.json\n"
	_, err := Parse([]byte(src))
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v has no *FieldError", err)
	}
	if fe.Path != "providers[0].jwks_uri" || fe.Line != 4 {
		t.Errorf("problem at %s line %d, want providers[0].jwks_uri line 4", fe.Path, fe.Line)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("grpc_addr: 127.0.0.1:19001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("grpc_addr: nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		path    string
		env     map[string]string
		check   func(t *testing.T, c *Config)
		wantErr string
	}{
		"file": {
			path: good,
			check: func(t *testing.T, c *Config) {
				if c.GRPCAddr != "127.0.0.1:19001" || c.HTTPAddr != DefaultHTTPAddr {
					t.Errorf("addresses = %s %s", c.GRPCAddr, c.HTTPAddr)
				}
			},
		},
		"env overrides file": {
			path: good,
			env:  map[string]string{"JWT_AUTHZ_GRPC_ADDR": "127.0.0.1:29001", "JWT_AUTHZ_HTTP_ADDR": "127.0.0.1:28080"},
			check: func(t *testing.T, c *Config) {
				if c.GRPCAddr != "127.0.0.1:29001" {
					t.Errorf("grpc_addr = %s", c.GRPCAddr)
				}
				if c.Issuer.Issuer != "http://127.0.0.1:28080" {
					t.Errorf("issuer.issuer = %s, want it derived from the overridden http_addr", c.Issuer.Issuer)
				}
			},
		},
		"env fixes file": {
			path: bad,
			env:  map[string]string{"JWT_AUTHZ_GRPC_ADDR": "127.0.0.1:29001"},
			check: func(t *testing.T, c *Config) {
				if c.GRPCAddr != "127.0.0.1:29001" {
					t.Errorf("grpc_addr = %s", c.GRPCAddr)
				}
			},
		},
		"invalid file": {
			path:    bad,
			wantErr: "grpc_addr: must be host:port, such as 127.0.0.1:8080, not \"nope\" (line 1)",
		},
		"invalid env value named": {
			path:    good,
			env:     map[string]string{"JWT_AUTHZ_DRY_RUN": "maybe"},
			wantErr: "JWT_AUTHZ_DRY_RUN: must be true or false, not \"maybe\"",
		},
		"env value fails validation": {
			path:    good,
			env:     map[string]string{"JWT_AUTHZ_LOG_LEVEL": "loud"},
			wantErr: "log_level: must be one of debug, info, warn or error, not \"loud\" (set by JWT_AUTHZ_LOG_LEVEL)",
		},
		"missing file": {
			path:    filepath.Join(dir, "missing.yaml"),
			wantErr: "read config: open " + filepath.Join(dir, "missing.yaml") + ": no such file or directory",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			for _, v := range EnvVars() {
				t.Setenv(v, "")
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := Load(tt.path)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Load error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, []byte(strings.Repeat("#", MaxConfigBytes+10)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Load error = %v, want a size error", err)
	}
}

// TestParseManyProblems feeds a file that is wrong everywhere: the work must
// stay linear and the report bounded.
func TestParseManyProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("providers:\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "  - null\n  - {name: p%d}\n", i)
	}
	b.WriteString("rules:\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "  - providers: [q%d]\n", i)
	}
	_, err := Parse([]byte(b.String()))
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	problems := err.(interface{ Unwrap() []error }).Unwrap()
	if len(problems) != maxProblems+1 {
		t.Fatalf("%d problems reported, want %d and a summary", len(problems), maxProblems)
	}
	if last := problems[maxProblems].Error(); !strings.HasPrefix(last, "and ") || !strings.HasSuffix(last, " more problems") {
		t.Errorf("last problem = %q, want a count of the rest", last)
	}
}

func TestParseDecisionLogSampling(t *testing.T) {
	c, err := Parse([]byte("decision_log:\n  sample_allow: 1\n  sample_deny: 0.25\n"))
	if err != nil {
		t.Fatal(err)
	}
	if *c.DecisionLog.SampleAllow != 1 || *c.DecisionLog.SampleDeny != 0.25 || c.DecisionLog.Enabled {
		t.Fatalf("decision_log %+v", c.DecisionLog)
	}
	if c, _ = Parse([]byte("decision_log:\n  enabled: true\n")); *c.DecisionLog.SampleAllow != DefaultDecisionLogSampleAllow || *c.DecisionLog.SampleDeny != DefaultDecisionLogSampleDeny {
		t.Fatalf("defaults %+v", c.DecisionLog)
	}
	_, err = Parse([]byte("decision_log:\n  sample_allow: often\n  sample_deny: 2\n"))
	for _, want := range []string{"decision_log.sample_allow: must be a number", "decision_log.sample_deny: must be between 0 and 1, not 2"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
}

// matchGolden compares got with the .golden file beside a .yaml fixture;
// -update rewrites the golden file.
func matchGolden(t *testing.T, fixture, got string) {
	t.Helper()
	golden := strings.TrimSuffix(fixture, ".yaml") + ".golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}
