package chart

import (
	"strings"
	"testing"
)

// TestRenderRefuses checks that settings which cannot work are refused at
// render time with a message that says what to change, so a broken release
// is never applied. Schema violations surface the same way as template
// failures: `helm install` stops before it talks to the cluster.
func TestRenderRefuses(t *testing.T) {
	tests := map[string]struct {
		values string
		want   string // substring of the error
	}{
		"bolt with two replicas": {
			values: "replicaCount: 2",
			want:   "config.revocation.store is \"bolt\", which keeps revocations in one pod",
		},
		"bolt with autoscaling": {
			values: "autoscaling: {enabled: true}",
			want:   "set config.revocation.store: redis",
		},
		"memory with two replicas": {
			values: "replicaCount: 3\nconfig: {revocation: {store: memory}}",
			want:   "config.revocation.store is \"memory\"",
		},
		"redis replicas without a shared signing key": {
			values: "replicaCount: 2\nconfig: {revocation: {store: redis}}\nredis: {url: 'redis://r:6379/0'}",
			want:   "every replica must sign with one key",
		},
		"redis without a URL": {
			values: "config: {revocation: {store: redis}}",
			want:   "set redis.url or redis.existingSecret",
		},
		"redis URL with bolt": {
			values: "redis: {url: 'redis://r:6379/0'}",
			want:   "set config.revocation.store: redis",
		},
		"two redis sources": {
			values: "config: {revocation: {store: redis}}\nredis: {url: 'redis://r:6379/0', existingSecret: r}",
			want:   "only one of redis.url and redis.existingSecret",
		},
		"two signing key sources": {
			values: "issuer: {existingSecret: k, generateSigningKey: true}",
			want:   "only one of issuer.existingSecret and issuer.generateSigningKey",
		},
		"previous keys without a secret": {
			values: "issuer: {previousSecretKeys: [old.pem]}",
			want:   "issuer.previousSecretKeys needs issuer.existingSecret",
		},
		"back-channel logout without an audience": {
			values: "config: {providers: [{name: corp, issuer: 'https://idp.example.com/', jwks_uri: 'https://idp.example.com/jwks', backchannel_logout: {enabled: true}}]}",
			want:   "audience",
		},
		"clashing ports": {
			values: "containerPorts: {grpc: 9001, http: 9001, admin: 9090}",
			want:   "must differ",
		},
		"autoscaling bounds": {
			values: "autoscaling: {enabled: true, minReplicas: 4, maxReplicas: 2}\nconfig: {revocation: {store: redis}}\nredis: {url: 'redis://r:6379/0'}\nissuer: {existingSecret: k}",
			want:   "maxReplicas must not be below",
		},
		// Schema.
		"unknown top-level value": {
			values: "replicas: 2",
			want:   "additional properties 'replicas' not allowed",
		},
		"unknown nested value": {
			values: "image: {tags: latest}",
			want:   "additional properties 'tags' not allowed",
		},
		"unknown config key": {
			values: "config: {grpc_address: 0.0.0.0:1}",
			want:   "additional properties 'grpc_address' not allowed",
		},
		"listen address set by the chart": {
			values: "config: {grpc_addr: '127.0.0.1:9001'}",
			want:   "additional properties 'grpc_addr' not allowed",
		},
		"unknown provider key": {
			values: "config: {providers: [{name: corp, issuer: 'https://idp/', jwks_url: 'https://idp/jwks'}]}",
			want:   "additional properties 'jwks_url' not allowed",
		},
		"provider without a key source": {
			values: "config: {providers: [{name: corp, issuer: 'https://idp/'}]}",
			want:   "missing property 'jwks_uri'",
		},
		"provider named self": {
			values: "config: {providers: [{name: self, issuer: 'https://idp/', discovery: true}]}",
			want:   "name",
		},
		"bad algorithm": {
			values: "config: {providers: [{name: corp, issuer: 'https://idp/', discovery: true, algorithms: [HS256]}]}",
			want:   "algorithms",
		},
		"bad store": {
			values: "config: {revocation: {store: etcd}}",
			want:   "store",
		},
		"bad issuer algorithm": {
			values: "config: {issuer: {algorithm: ES512}}",
			want:   "algorithm",
		},
		"bad duration": {
			values: "config: {shutdown_delay: five seconds}",
			want:   "at '/config/shutdown_delay'",
		},
		"bad image digest": {
			values: "image: {digest: 'latest'}",
			want:   "digest",
		},
		"bad service type": {
			values: "service: {type: ExternalName}",
			want:   "type",
		},
		"wrong type": {
			values: "replicaCount: two",
			want:   "replicaCount",
		},
		"two keys in one token source": {
			values: "config: {token_sources: [{header: authorization, cookie: at}]}",
			want:   "token_sources",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := render(t, valuesYAML(t, tc.values))
			if err == nil {
				t.Fatalf("render succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// TestRenderAccepts checks valid combinations around the refused ones.
func TestRenderAccepts(t *testing.T) {
	tests := map[string]string{
		"redis replicas with an existing key": "replicaCount: 3\nconfig: {revocation: {store: redis}}\nredis: {existingSecret: r}\nissuer: {existingSecret: k}",
		"redis replicas with a generated key": "replicaCount: 2\nconfig: {revocation: {store: redis}}\nredis: {url: 'rediss://r:6380/1'}\nissuer: {generateSigningKey: true}",
		"redis replicas without the issuer":   "replicaCount: 2\nconfig: {revocation: {store: redis}, issuer: {enabled: false}, providers: [{name: corp, issuer: 'https://idp/', jwks_uri: 'https://idp/jwks'}]}\nredis: {url: 'redis://r:6379/0'}",
		"autoscaling with redis":              "autoscaling: {enabled: true}\nconfig: {revocation: {store: redis}}\nredis: {url: 'redis://r:6379/0'}\nissuer: {existingSecret: k}",
		"bolt on an emptyDir":                 "persistence: {enabled: false}",
		"bolt on an existing claim":           "persistence: {existingClaim: authz-data}",
		"memory store":                        "config: {revocation: {store: memory}}",
		"zero replicas":                       "replicaCount: 0",
		"image digest":                        "image: {digest: 'sha256:" + strings.Repeat("ab", 32) + "'}",
		"everything opt-in":                   "serviceMonitor: {enabled: true}\nprometheusRule: {enabled: true}\nnetworkPolicy: {enabled: true}\npodDisruptionBudget: {enabled: true, minAvailable: 1}",
		"every token source":                  "config: {token_sources: [{header: authorization}, {header: x-access-token}, {cookie: access_token}, {query: access_token}]}",
		"full provider":                       "config: {providers: [{name: corp, issuer: 'https://idp/', audiences: [a], jwks_uri: 'https://idp/jwks', algorithms: [RS256, EdDSA], clock_skew: 30s, require_exp: true, max_lifetime: 24h, typ: at+jwt, jwks_refresh_interval: 5m, jwks_min_refresh_interval: 30s, jwks_max_stale: 24h, allow_http: false, forward_claims: {sub: x-jwt-sub}, forward_payload_header: x-jwt-payload, keep_authorization: false}]}",
		"jwks file provider":                  "config: {providers: [{name: files, issuer: 'https://idp/', jwks_file: /etc/keys/jwks.json}]}",
		"full rule":                           "config: {rules: [{match: {path_prefix: /admin, methods: [POST, DELETE], host: api.example.com}, providers: [self], require_scopes: [admin], require_claims: {tenant: acme}, dry_run: true}]}",
	}
	for name, values := range tests {
		t.Run(name, func(t *testing.T) {
			m := parseRendered(t, mustRender(t, valuesYAML(t, values)))
			requireSpecConfig(t, configOf(t, m.get(t, "ConfigMap")))
		})
	}
}
