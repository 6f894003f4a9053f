package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// validConfig returns a defaulted config with one provider, to which each
// test case applies one change.
func validConfig() *Config {
	c := &Config{
		Providers: []Provider{{
			Name:    "corp",
			Issuer:  "https://idp.example.com/",
			JWKSURI: "https://idp.example.com/jwks.json",
		}},
	}
	c.ApplyDefaults()
	return c
}

func TestValidate(t *testing.T) {
	off := false
	tests := map[string]struct {
		edit func(c *Config)
		want []string // each problem, in order; empty means valid
	}{
		"valid": {
			edit: func(*Config) {},
		},
		"default config is valid": {
			edit: func(c *Config) { *c = *Default() },
		},
		"listeners on port 0 may repeat": {
			edit: func(c *Config) { c.GRPCAddr, c.HTTPAddr, c.AdminAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0" },
		},
		"same port on different hosts": {
			edit: func(c *Config) { c.GRPCAddr, c.HTTPAddr = "127.0.0.1:8080", "127.0.0.2:8080" },
		},
		"wildcard conflicts with any host": {
			edit: func(c *Config) { c.GRPCAddr, c.AdminAddr = "[::]:9090", "127.0.0.1:9090" },
			want: []string{`admin_addr: "127.0.0.1:9090" is already used by grpc_addr`},
		},
		"empty host is every interface": {
			edit: func(c *Config) { c.GRPCAddr, c.HTTPAddr = ":8080", "localhost:8080" },
			want: []string{`http_addr: "localhost:8080" is already used by grpc_addr`},
		},
		"ipv6 and host names": {
			edit: func(c *Config) { c.GRPCAddr, c.HTTPAddr = "[::1]:9001", "jwt-authz.default.svc:8080" },
		},
		"metrics on every interface": {
			edit: func(c *Config) { c.MetricsAddr = "0.0.0.0:9091" },
		},
		"metrics on the admin port": {
			edit: func(c *Config) { c.MetricsAddr = "127.0.0.1:9090" },
			want: []string{`metrics_addr: "127.0.0.1:9090" is already used by admin_addr`},
		},
		"metrics without a port": {
			edit: func(c *Config) { c.MetricsAddr = "127.0.0.1" },
			want: []string{`metrics_addr: must be host:port, such as 127.0.0.1:8080, not "127.0.0.1"`},
		},
		"admin on every IPv4 interface without a token": {
			edit: func(c *Config) { c.AdminAddr = "0.0.0.0:9090" },
			want: []string{`admin_addr: "0.0.0.0:9090" is reachable from other hosts, so admin_token_file must be set; or listen on a loopback address such as 127.0.0.1:9090`},
		},
		"admin on every IPv6 interface without a token": {
			edit: func(c *Config) { c.AdminAddr = "[::]:9090" },
			want: []string{`admin_addr: "[::]:9090" is reachable from other hosts, so admin_token_file must be set; or listen on a loopback address such as 127.0.0.1:9090`},
		},
		"dpop unknown": {
			edit: func(c *Config) { c.Providers[0].DPoP = "always" },
			want: []string{`providers[0].dpop: must be one of allowed or required, not "always"`},
		},
		"dpop_proof_max_age too long": {
			edit: func(c *Config) { c.Providers[0].DPoPProofMaxAge = 2 * time.Hour },
			want: []string{"providers[0].dpop_proof_max_age: must be at most 1h0m0s: a proof is meant for one request"},
		},
		"dpop_proof_max_age negative": {
			edit: func(c *Config) { c.Providers[0].DPoPProofMaxAge = -time.Second },
			want: []string{"providers[0].dpop_proof_max_age: must be greater than 0"},
		},
		"issuer dpop unknown": {
			edit: func(c *Config) { c.Issuer.DPoP = "yes" },
			want: []string{`issuer.dpop: must be one of allowed or required, not "yes"`},
		},
		"dpop nonces with one replica need no key file": {
			edit: func(c *Config) { c.Providers[0].DPoPNonce = true },
		},
		"dpop nonces over redis need a key file": {
			edit: func(c *Config) {
				c.Providers[0].DPoPNonce = true
				c.Revocation.Store, c.Revocation.RedisURL = StoreRedis, "redis://127.0.0.1:6379/0"
			},
			want: []string{"dpop_nonce_key_file: must be set when a provider sets dpop_nonce and revocation.store is redis: every replica must accept the nonces the others give out"},
		},
		"mtls_bound unknown": {
			edit: func(c *Config) { c.Providers[0].MTLSBound = "always" },
			want: []string{`providers[0].mtls_bound: must be one of allowed or required, not "always"`},
		},
		"client cert header not lower case": {
			edit: func(c *Config) { c.ForwardAuthClientCertHeader = "X-Forwarded-Client-Cert" },
			want: []string{`forward_auth_client_cert_header: must be lower case (x-forwarded-client-cert)`},
		},
		"decision log sampling out of range": {
			edit: func(c *Config) {
				over, neg := 1.5, -0.1
				c.DecisionLog.SampleAllow, c.DecisionLog.SampleDeny = &over, &neg
			},
			want: []string{
				`decision_log.sample_allow: must be between 0 and 1, not 1.5`,
				`decision_log.sample_deny: must be between 0 and 1, not -0.1`,
			},
		},
		"admin on an empty host without a token": {
			edit: func(c *Config) { c.AdminAddr = ":9090" },
			want: []string{`admin_addr: ":9090" is reachable from other hosts, so admin_token_file must be set; or listen on a loopback address such as 127.0.0.1:9090`},
		},
		"admin on a routable address without a token": {
			edit: func(c *Config) { c.AdminAddr = "10.1.2.3:9090" },
			want: []string{`admin_addr: "10.1.2.3:9090" is reachable from other hosts, so admin_token_file must be set; or listen on a loopback address such as 127.0.0.1:9090`},
		},
		"admin on a host name without a token": {
			edit: func(c *Config) { c.AdminAddr = "jwt-authz.default.svc:9090" },
			want: []string{`admin_addr: "jwt-authz.default.svc:9090" is reachable from other hosts, so admin_token_file must be set; or listen on a loopback address such as 127.0.0.1:9090`},
		},
		"admin on every interface with a token": {
			edit: func(c *Config) { c.AdminAddr, c.AdminTokenFile = "0.0.0.0:9090", "/run/secrets/admin-token" },
		},
		"admin on loopback names without a token": {
			edit: func(c *Config) {
				c.AdminAddr = "localhost:9090"
				c.GRPCAddr = "[::1]:9001"
				c.HTTPAddr = "127.0.0.2:8080"
			},
		},
		"admin on IPv6 loopback without a token": {
			edit: func(c *Config) { c.AdminAddr = "[::1]:9090" },
		},
		"port out of range": {
			edit: func(c *Config) { c.GRPCAddr = "127.0.0.1:65536" },
			want: []string{`grpc_addr: port must be a number from 0 to 65535, not "65536"`},
		},
		"http jwks on loopback": {
			edit: func(c *Config) { c.Providers[0].JWKSURI = "http://127.0.0.1:5556/keys" },
		},
		"http jwks on localhost": {
			edit: func(c *Config) { c.Providers[0].JWKSURI = "http://localhost:5556/keys" },
		},
		"http jwks on ipv6 loopback": {
			edit: func(c *Config) { c.Providers[0].JWKSURI = "http://[::1]:5556/keys" },
		},
		"http jwks elsewhere with allow_http": {
			edit: func(c *Config) {
				c.Providers[0].JWKSURI = "http://idp.internal/keys"
				c.Providers[0].AllowHTTP = true
			},
		},
		"http jwks elsewhere": {
			edit: func(c *Config) { c.Providers[0].JWKSURI = "http://idp.internal/keys" },
			want: []string{"providers[0].jwks_uri: must be https: http is allowed only for loopback hosts unless allow_http is true"},
		},
		"jwks uri with another scheme": {
			edit: func(c *Config) { c.Providers[0].JWKSURI = "ftp://idp.example.com/keys" },
			want: []string{"providers[0].jwks_uri: must be an absolute https URL"},
		},
		"self allowed while the issuer is disabled": {
			edit: func(c *Config) {
				c.Issuer.Enabled = &off
				c.Providers[0].Name = SelfProvider
				c.Rules = []Rule{{Providers: []string{SelfProvider}}}
			},
		},
		"rules may name self while the issuer is enabled": {
			edit: func(c *Config) {
				c.Rules = []Rule{{Providers: []string{"corp", SelfProvider}}}
				c.Issuer.ExchangeProviders = []string{"corp"}
			},
		},
		"provider name too long": {
			edit: func(c *Config) { c.Providers[0].Name = strings.Repeat("a", 64) },
			want: []string{"providers[0].name: must be at most 63 characters"},
		},
		"negative durations": {
			edit: func(c *Config) {
				c.Providers[0].ClockSkew = -time.Second
				c.Providers[0].MaxLifetime = -time.Second
				c.Providers[0].JWKSMaxStale = -time.Second
			},
			want: []string{
				"providers[0].clock_skew: must not be negative",
				"providers[0].max_lifetime: must not be negative",
				"providers[0].jwks_max_stale: must not be negative",
			},
		},
		"zero clock skew and max stale are valid": {
			edit: func(c *Config) {
				c.Providers[0].ClockSkew = 0
				c.Providers[0].JWKSMaxStale = 0
			},
		},
		"forward claims": {
			edit: func(c *Config) {
				c.Providers[0].ForwardClaims = map[string]string{"sub": "x-jwt-sub", "realm_access.roles": "x-jwt-roles"}
				c.Providers[0].ForwardPayloadHeader = "x-jwt-payload"
			},
		},
		"hop-by-hop header": {
			edit: func(c *Config) { c.Providers[0].ForwardPayloadHeader = "transfer-encoding" },
			want: []string{`providers[0].forward_payload_header: "transfer-encoding" cannot be set from a token`},
		},
		"rule methods and scopes": {
			edit: func(c *Config) {
				c.Rules = []Rule{{Match: Match{PathPrefix: "/", Methods: []string{"GET", "PROPFIND"}}, RequireScopes: []string{"read"}}}
			},
		},
		"anonymous rule with claims": {
			edit: func(c *Config) {
				c.Rules = []Rule{{AllowAnonymous: true, RequireClaims: map[string]string{"tenant": "acme"}}}
			},
			want: []string{"rules[0]: allow_anonymous contradicts require_scopes and require_claims: an anonymous request has neither"},
		},
		"two providers with one issuer": {
			edit: func(c *Config) {
				c.Providers = append(c.Providers, Provider{Name: "corp2", Issuer: "https://idp.example.com/", JWKSURI: "https://idp.example.com/other.json"})
				c.ApplyDefaults()
			},
			want: []string{`providers[1].issuer: "https://idp.example.com/" is already the issuer of providers[0]; one provider per issuer`},
		},
		"a provider with the built-in issuer's issuer": {
			edit: func(c *Config) { c.Providers[0].Issuer = c.Issuer.Issuer },
			want: []string{`providers[0].issuer: "http://127.0.0.1:8080" is issuer.issuer, the built-in issuer's (provider "self")`},
		},
		"unknown provider suggestion": {
			edit: func(c *Config) { c.Rules = []Rule{{Providers: []string{"crop"}}} },
			want: []string{`rules[0].providers[0]: unknown provider "crop" (did you mean corp?)`},
		},
		"memory and bolt stores need no url": {
			edit: func(c *Config) { c.Revocation.Store = StoreMemory },
		},
		"redis urls": {
			edit: func(c *Config) {
				c.Revocation.Store = StoreRedis
				c.Revocation.RedisURL = "redis://:pw@redis:6379/0"
			},
		},
		"redis sentinel": {
			edit: func(c *Config) {
				c.Revocation.Store = StoreRedis
				c.Revocation.RedisUsername = "jwt-authz"
				c.Revocation.RedisSentinel = &RedisSentinel{MasterName: "mymaster", Addrs: []string{"10.0.0.1:26379", "[::1]:26379", "sentinel-2.sentinel:26379"}, TLS: true}
			},
		},
		"redis cluster": {
			edit: func(c *Config) {
				c.Revocation.Store = StoreRedis
				c.Revocation.RedisCluster = &RedisCluster{Addrs: []string{"clustercfg.example.cache.amazonaws.com:6379"}, TLS: true}
			},
		},
		"redis topology missing": {
			edit: func(c *Config) { c.Revocation.Store = StoreRedis },
			want: []string{"revocation: store: redis needs one of redis_url, redis_sentinel or redis_cluster"},
		},
		"redis username twice": {
			edit: func(c *Config) {
				c.Revocation.Store = StoreRedis
				c.Revocation.RedisURL = "redis://alice:pw@redis:6379"
				c.Revocation.RedisUsername = "bob"
			},
			want: []string{"revocation.redis_username: differs from the user named in revocation.redis_url; set it in one place"},
		},
		"redis two topologies": {
			edit: func(c *Config) {
				c.Revocation.Store = StoreRedis
				c.Revocation.RedisURL = "redis://redis:6379"
				c.Revocation.RedisSentinel = &RedisSentinel{MasterName: "m", Addrs: []string{"s:26379"}}
				c.Revocation.RedisCluster = &RedisCluster{Addrs: []string{"c:6379"}}
			},
			want: []string{"revocation: set only one of redis_url, redis_sentinel or redis_cluster, not redis_url and redis_sentinel and redis_cluster"},
		},
		"redis sentinel incomplete": {
			edit: func(c *Config) {
				c.Revocation.Store = StoreRedis
				c.Revocation.RedisSentinel = &RedisSentinel{Addrs: []string{"s", ":26379", "s:http"}}
			},
			want: []string{
				"revocation.redis_sentinel.master_name: is required: the name the sentinels monitor the primary under",
				`revocation.redis_sentinel.addrs[0]: "s" must be host:port, such as redis-0.redis:6379`,
				`revocation.redis_sentinel.addrs[1]: ":26379" must be host:port, such as redis-0.redis:6379`,
				`revocation.redis_sentinel.addrs[2]: "s:http" port must be a number from 1 to 65535`,
			},
		},
		"redis cluster without seeds": {
			edit: func(c *Config) {
				c.Revocation.Store = StoreRedis
				c.Revocation.RedisCluster = &RedisCluster{}
			},
			want: []string{"revocation.redis_cluster.addrs: needs at least one host:port"},
		},
		"redis without host": {
			edit: func(c *Config) {
				c.Revocation.Store = StoreRedis
				c.Revocation.RedisURL = "redis:///0"
			},
			want: []string{"revocation.redis_url: must name a host, such as redis://host:6379/0"},
		},
		"redis port out of range": {
			edit: func(c *Config) {
				c.Revocation.Store = StoreRedis
				c.Revocation.RedisURL = "rediss://redis:99999"
			},
			want: []string{"revocation.redis_url: port must be a number from 1 to 65535"},
		},
		"issuer disabled skips issuer checks": {
			edit: func(c *Config) {
				c.Issuer.Enabled = &off
				c.Issuer.Algorithm = "HS256"
				c.Issuer.ExchangeProviders = []string{"nobody"}
			},
		},
		"exchange may name self": {
			edit: func(c *Config) { c.Issuer.ExchangeProviders = []string{SelfProvider} },
		},
		"issuer url with query": {
			edit: func(c *Config) { c.Issuer.Issuer = "https://jwt-authz.example.com/?a=b" },
			want: []string{"issuer.issuer: must not contain credentials, a query or a fragment"},
		},
		"reuse grace within the access ttl": {
			edit: func(c *Config) { c.Issuer.RefreshReuseGrace = 2 * time.Second },
		},
		"negative reuse grace": {
			edit: func(c *Config) { c.Issuer.RefreshReuseGrace = -time.Second },
			want: []string{"issuer.refresh_reuse_grace: must not be negative"},
		},
		"no provider at all": {
			edit: func(c *Config) {
				c.Providers = nil
				c.Issuer.Enabled = &off
			},
			want: []string{"providers: at least one provider is needed (or enable issuer)"},
		},
		"negative shutdown delay": {
			edit: func(c *Config) { c.ShutdownDelay = -time.Second },
			want: []string{"shutdown_delay: must not be negative"},
		},
		"token too large a limit": {
			edit: func(c *Config) { c.MaxTokenBytes = 1<<20 + 1 },
			want: []string{"max_token_bytes: must be between 1 and 1048576"},
		},
		"query and cookie sources": {
			edit: func(c *Config) {
				c.TokenSources = []TokenSource{{Cookie: "__Host-token"}, {Query: "access_token"}, {Header: "x-token"}}
			},
		},
		"every problem reported": {
			edit: func(c *Config) {
				c.LogLevel = "verbose"
				c.Providers[0].JWKSURI = ""
				c.Revocation.Store = "etcd"
			},
			want: []string{
				`log_level: must be one of debug, info, warn or error, not "verbose"`,
				"providers[0]: needs one of jwks_uri, discovery or jwks_file",
				`revocation.store: must be one of memory, bolt or redis, not "etcd"`,
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := validConfig()
			tt.edit(c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate succeeded, want %q", tt.want)
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("Validate errors:\n%s\nwant:\n%s", got, want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("errors.As(*FieldError) failed on %v", err)
			}
		})
	}
}

func TestValidateDoesNotMutate(t *testing.T) {
	c := validConfig()
	c.Providers[0].Algorithms = []string{"ES256", "RS256"}
	before := ProviderFingerprint(c.Providers[0])
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Providers[0].Algorithms[0] != "ES256" || ProviderFingerprint(c.Providers[0]) != before {
		t.Error("Validate changed the config")
	}
}

func TestFieldErrorError(t *testing.T) {
	tests := map[string]struct {
		fe   FieldError
		want string
	}{
		"path":      {FieldError{Path: "providers[1].jwks_uri", Msg: "must be an absolute https URL"}, "providers[1].jwks_uri: must be an absolute https URL"},
		"with line": {FieldError{Path: "grpc_adr", Msg: "unknown key", Line: 3}, "grpc_adr: unknown key (line 3)"},
		"document":  {FieldError{Msg: "the top level must be a mapping of keys", Line: 1}, "the top level must be a mapping of keys (line 1)"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tt.fe.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"jwks_uri", "jwks_file", "path_prefix", "access_token_ttl", "refresh_token_ttl", "algorithms"}
	tests := map[string]string{
		"jwks_url":  "jwks_uri",
		"JWKS_URI":  "jwks_uri",
		"algorithm": "algorithms",
		"path":      "path_prefix",
		"ttl":       "",
		"x":         "",
		"":          "",
		"zzzzzzzz":  "",
	}
	for word, want := range tests {
		t.Run(word, func(t *testing.T) {
			if got := suggest(word, keys); got != want {
				t.Errorf("suggest(%q) = %q, want %q", word, got, want)
			}
		})
	}
}

func TestPaths(t *testing.T) {
	tests := map[string]struct{ got, want string }{
		"top":          {childPath("", "grpc_addr"), "grpc_addr"},
		"nested":       {childPath("issuer", "issuer"), "issuer.issuer"},
		"index":        {indexPath("providers", 2), "providers[2]"},
		"dotted key":   {childPath("providers[0].forward_claims", "realm_access.roles"), `providers[0].forward_claims["realm_access.roles"]`},
		"empty key":    {childPath("rules[0].require_claims", ""), `rules[0].require_claims[""]`},
		"long key cut": {childPath("", strings.Repeat("k", 70)), "[\"" + strings.Repeat("k", 64) + "…\"]"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("path = %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"jwks_url", "jwks_uri", 1},
		{"crop", "corp", 1},
		{"kitten", "sitting", 3},
		{"algorithm", "algorithms", 1},
	}
	for _, tt := range tests {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			if got := editDistance(tt.a, tt.b); got != tt.want {
				t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestDPoPNonceKeyFile(t *testing.T) {
	dir := t.TempDir()
	short, good := dir+"/short", dir+"/good"
	if err := os.WriteFile(short, []byte("too short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte(strings.Repeat("k", 48)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, err := ReadDPoPNonceKey(good); err != nil || len(k) != 48 {
		t.Fatalf("ReadDPoPNonceKey(good) = %d bytes, %v", len(k), err)
	}
	for _, path := range []string{short, dir + "/missing", dir} {
		c := validConfig()
		c.DataDir = dir
		c.DPoPNonceKeyFile = path
		err := c.CheckFiles()
		if err == nil || !strings.Contains(err.Error(), "dpop_nonce_key_file: ") {
			t.Errorf("CheckFiles with dpop_nonce_key_file %s: %v", path, err)
		}
	}
}
