package chart

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// keyTree lists the config file keys of CONFIGURATION.md, plus the
// operational keys the config package adds (log_level, log_format,
// shutdown_delay, max_token_bytes, revocation.sync_interval,
// issuer.exchange_claims, the grpc and http limits). A nested keyTree is a map; a list of maps is
// described by its item's keyTree under listOf; nil is a leaf.
type keyTree map[string]any

// listOf describes a list whose items are maps with the given keys.
type listOf keyTree

var specKeys = keyTree{
	"grpc_addr":        nil,
	"http_addr":        nil,
	"admin_addr":       nil,
	"metrics_addr":     nil,
	"admin_token_file": nil,
	"data_dir":         nil,
	"log_level":        nil,
	"log_format":       nil,
	"shutdown_delay":   nil,
	"max_token_bytes":  nil,
	"providers": listOf{
		"name": nil, "issuer": nil, "audiences": nil, "jwks_uri": nil, "discovery": nil,
		"jwks_file": nil, "algorithms": nil, "clock_skew": nil, "require_exp": nil,
		"max_lifetime": nil, "typ": nil, "jwks_refresh_interval": nil,
		"jwks_min_refresh_interval": nil, "jwks_max_stale": nil, "allow_http": nil,
		"forward_claims": nil, "forward_payload_header": nil, "keep_authorization": nil,
		"optional": nil, "mtls_bound": nil, "dpop": nil, "dpop_proof_max_age": nil, "dpop_nonce": nil,
		"backchannel_logout": keyTree{"enabled": nil, "audience": nil},
	},
	"dry_run":                         nil,
	"bypass_cors_preflight":           nil,
	"path_normalization":              nil,
	"forward_auth_client_cert_header": nil,
	"dpop_nonce_key_file":             nil,
	"proc_tuning":                     nil,
	"decision_log":                    keyTree{"enabled": nil, "path": nil, "sample_allow": nil, "sample_deny": nil},
	"tracing":                         keyTree{"enabled": nil, "endpoint": nil, "protocol": nil, "sample_ratio": nil},
	"token_sources":                   listOf{"header": nil, "cookie": nil, "query": nil},
	"rules": listOf{
		"match":           keyTree{"path_prefix": nil, "path": nil, "methods": nil, "host": nil},
		"allow_anonymous": nil, "dry_run": nil, "providers": nil,
		"require_scopes": nil, "require_claims": nil,
	},
	"token_cache": keyTree{"max_entries": nil},
	"token_endpoint_rate_limit": keyTree{
		"requests_per_second": nil, "burst": nil, "max_clients": nil, "client_ip_header": nil,
	},
	"backchannel_logout_rate_limit": keyTree{
		"requests_per_second": nil, "burst": nil, "total_requests_per_second": nil,
		"total_burst": nil, "max_clients": nil, "client_ip_header": nil,
	},
	"revocation": keyTree{
		"store": nil, "bolt_path": nil, "redis_url": nil, "max_staleness": nil, "sync_interval": nil,
		"redis_sentinel": keyTree{
			"master_name": nil, "addrs": nil, "password_file": nil, "sentinel_password_file": nil, "tls": nil,
		},
		"redis_cluster":  keyTree{"addrs": nil, "password_file": nil, "tls": nil},
		"redis_username": nil,
	},
	"issuer": keyTree{
		"enabled": nil, "issuer": nil, "audiences": nil, "algorithm": nil,
		"signing_key_file": nil, "previous_key_files": nil, "access_token_ttl": nil,
		"refresh_token_ttl": nil, "refresh_reuse_grace": nil, "session_max_lifetime": nil,
		"exchange_providers": nil, "exchange_claims": nil,
		"forward_claims": nil, "forward_payload_header": nil, "keep_authorization": nil,
		"dpop": nil, "dpop_proof_max_age": nil, "dpop_nonce": nil,
	},
	"grpc": keyTree{
		"max_concurrent_streams": nil, "max_recv_msg_bytes": nil, "keepalive_min_time": nil,
		"keepalive_permit_without_stream": nil, "keepalive_time": nil, "keepalive_timeout": nil,
		"max_connection_age": nil,
	},
	"http": keyTree{
		"read_header_timeout": nil, "read_timeout": nil, "write_timeout": nil, "idle_timeout": nil,
		"max_header_bytes": nil, "max_body_bytes": nil,
	},
}

// unknownKeys returns the key paths of cfg that specKeys does not list, in
// the "providers[1].jwks_uri" form the config package reports.
func unknownKeys(cfg map[string]any) []string {
	var out []string
	walkKeys(cfg, specKeys, "", &out)
	sort.Strings(out)
	return out
}

func walkKeys(v map[string]any, tree keyTree, prefix string, out *[]string) {
	for k, child := range v {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		sub, known := tree[k]
		if !known {
			*out = append(*out, path)
			continue
		}
		switch s := sub.(type) {
		case keyTree:
			m, ok := child.(map[string]any)
			if !ok {
				if child != nil {
					*out = append(*out, path+" (want a mapping)")
				}
				continue
			}
			walkKeys(m, s, path, out)
		case listOf:
			items, ok := child.([]any)
			if !ok {
				if child != nil {
					*out = append(*out, path+" (want a list)")
				}
				continue
			}
			for i, item := range items {
				m, ok := item.(map[string]any)
				if !ok {
					*out = append(*out, fmt.Sprintf("%s[%d] (want a mapping)", path, i))
					continue
				}
				walkKeys(m, keyTree(s), fmt.Sprintf("%s[%d]", path, i), out)
			}
		}
	}
}

// requireSpecConfig fails the test when cfg has a key outside CONFIGURATION.md or
// lacks one of the keys a deployment must set.
func requireSpecConfig(t *testing.T, cfg map[string]any) {
	t.Helper()
	if bad := unknownKeys(cfg); len(bad) > 0 {
		t.Errorf("config keys not in CONFIGURATION.md: %s", strings.Join(bad, ", "))
	}
	for _, path := range [][]any{
		{"grpc_addr"}, {"http_addr"}, {"admin_addr"}, {"data_dir"},
		{"revocation", "store"},
	} {
		if dig(cfg, path...) == nil {
			t.Errorf("config lacks %v", path)
		}
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := map[string]struct {
		cfg  map[string]any
		want []string
	}{
		"spec keys": {
			cfg: map[string]any{
				"grpc_addr": "0.0.0.0:9001",
				"providers": []any{map[string]any{"name": "corp", "jwks_uri": "https://x"}},
				"rules":     []any{map[string]any{"match": map[string]any{"path_prefix": "/"}}},
				"issuer":    map[string]any{"enabled": true},
			},
		},
		"unknown top-level key": {
			cfg:  map[string]any{"grpc_address": "x"},
			want: []string{"grpc_address"},
		},
		"unknown provider key": {
			cfg:  map[string]any{"providers": []any{map[string]any{"name": "a"}, map[string]any{"jwks_url": "x"}}},
			want: []string{"providers[1].jwks_url"},
		},
		"unknown nested key": {
			cfg:  map[string]any{"rules": []any{map[string]any{"match": map[string]any{"prefix": "/"}}}},
			want: []string{"rules[0].match.prefix"},
		},
		"wrong shape": {
			cfg:  map[string]any{"revocation": "bolt", "providers": map[string]any{}},
			want: []string{"providers (want a list)", "revocation (want a mapping)"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := unknownKeys(tc.cfg)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("unknownKeys = %q, want %q", got, tc.want)
			}
		})
	}
}
