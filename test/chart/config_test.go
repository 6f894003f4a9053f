package chart

import (
	"reflect"
	"strings"
	"testing"
)

// TestConfigMapConfig checks the config file the chart renders from
// .Values.config: only documented config keys, listeners on every interface at the
// container ports, and the paths that depend on the pod set by the chart.
func TestConfigMapConfig(t *testing.T) {
	tests := map[string]struct {
		values string
		want   map[string]any // key path (dotted) -> value
		absent []string
	}{
		"defaults": {
			want: map[string]any{
				"grpc_addr":               "0.0.0.0:9001",
				"http_addr":               "0.0.0.0:8080",
				"admin_addr":              "0.0.0.0:9090",
				"data_dir":                "/var/lib/jwt-authz",
				"admin_token_file":        "/var/run/secrets/jwt-authz/admin/token",
				"shutdown_delay":          "5s",
				"revocation.store":        "bolt",
				"issuer.enabled":          true,
				"issuer.issuer":           "http://jwt-authz.auth.svc:8080",
				"issuer.algorithm":        "EdDSA",
				"issuer.audiences":        []any{"jwt-authz"},
				"token_cache.max_entries": 100000,
			},
			absent: []string{"issuer.signing_key_file", "issuer.previous_key_files", "revocation.redis_url"},
		},
		"custom ports": {
			values: "containerPorts: {grpc: 10001, http: 10080, admin: 10090}\nservice: {ports: {http: 80}}",
			want: map[string]any{
				"grpc_addr":     "0.0.0.0:10001",
				"http_addr":     "0.0.0.0:10080",
				"admin_addr":    "0.0.0.0:10090",
				"issuer.issuer": "http://jwt-authz.auth.svc:80",
			},
		},
		"issuer URL given": {
			values: "config: {issuer: {issuer: https://auth.example.com}}",
			want:   map[string]any{"issuer.issuer": "https://auth.example.com"},
		},
		"admin token off": {
			values: "adminToken: {enabled: false}",
			want:   map[string]any{"admin_addr": "127.0.0.1:9090"},
			absent: []string{"admin_token_file"},
		},
		"admin token from an existing secret": {
			values: "adminToken: {existingSecret: ops-token, secretKey: admin}",
			want:   map[string]any{"admin_token_file": "/var/run/secrets/jwt-authz/admin/admin"},
		},
		"signing key from an existing secret": {
			values: "issuer: {existingSecret: keys, secretKey: current.pem, previousSecretKeys: [old.pem]}",
			want: map[string]any{
				"issuer.signing_key_file":   "/var/run/secrets/jwt-authz/signing/current.pem",
				"issuer.previous_key_files": []any{"/var/run/secrets/jwt-authz/signing/old.pem"},
			},
		},
		"generated signing key": {
			values: "issuer: {generateSigningKey: true}",
			want:   map[string]any{"issuer.signing_key_file": "/var/run/secrets/jwt-authz/signing/signing-key.pem"},
			absent: []string{"issuer.previous_key_files"},
		},
		"issuer disabled": {
			values: "config: {issuer: {enabled: false}, providers: [{name: corp, issuer: 'https://idp.example.com/', discovery: true}]}\nissuer: {existingSecret: keys}",
			want: map[string]any{
				"issuer.enabled":        false,
				"providers.0.name":      "corp",
				"providers.0.discovery": true,
			},
			absent: []string{"issuer.issuer", "issuer.signing_key_file"},
		},
		"redis url": {
			values: "config: {revocation: {store: redis}}\nredis: {url: 'redis://redis:6379/0'}",
			want: map[string]any{
				"revocation.store":     "redis",
				"revocation.redis_url": "redis://redis:6379/0",
			},
		},
		"redis url from a secret": {
			values: "config: {revocation: {store: redis}}\nredis: {existingSecret: redis-creds}",
			want:   map[string]any{"revocation.store": "redis"},
			absent: []string{"revocation.redis_url"},
		},
		"dry run and rules pass through": {
			values: "config: {dry_run: true, rules: [{match: {path_prefix: /healthz}, allow_anonymous: true}]}",
			want: map[string]any{
				"dry_run":                   true,
				"rules.0.match.path_prefix": "/healthz",
				"rules.0.allow_anonymous":   true,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := parseRendered(t, mustRender(t, valuesYAML(t, tc.values)))
			cfg := configOf(t, m.get(t, "ConfigMap"))
			requireSpecConfig(t, cfg)
			for path, want := range tc.want {
				if got := dig(cfg, splitPath(path)...); !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
			for _, path := range tc.absent {
				if got := dig(cfg, splitPath(path)...); got != nil {
					t.Errorf("%s = %#v, want it unset", path, got)
				}
			}
		})
	}
}

// splitPath turns "providers.0.name" into the dig path providers, 0, name.
func splitPath(p string) []any {
	var out []any
	for _, part := range strings.Split(p, ".") {
		if n, ok := atoi(part); ok {
			out = append(out, n)
			continue
		}
		out = append(out, part)
	}
	return out
}

func atoi(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int(r-'0')
	}
	return n, true
}

// TestChecksumAnnotation checks that the pods roll when, and only when, the
// rendered config changes.
func TestChecksumAnnotation(t *testing.T) {
	checksum := func(t *testing.T, values string) string {
		t.Helper()
		m := parseRendered(t, mustRender(t, valuesYAML(t, values)))
		sum := str(dig(m.get(t, "Deployment"), "spec", "template", "metadata", "annotations", "checksum/config"))
		if len(sum) != 64 {
			t.Fatalf("checksum/config = %q, want a sha256 hex digest", sum)
		}
		return sum
	}
	base := checksum(t, "")
	tests := map[string]struct {
		values  string
		changes bool
	}{
		"same values":         {"", false},
		"unrelated value":     {"podAnnotations: {team: platform}", false},
		"resources":           {"resources: {requests: {cpu: 200m}}", false},
		"config value":        {"config: {dry_run: true}", true},
		"provider added":      {"config: {providers: [{name: corp, issuer: 'https://idp/', discovery: true}]}", true},
		"port in the config":  {"containerPorts: {grpc: 9101, http: 8080, admin: 9090}", true},
		"issuer from Service": {"service: {ports: {http: 80}}", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := checksum(t, tc.values) != base; got != tc.changes {
				t.Errorf("checksum changed = %v, want %v", got, tc.changes)
			}
		})
	}
}
