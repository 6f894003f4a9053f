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
			want:   "set redis.url or redis.existingSecret, config.revocation.redis_sentinel or config.revocation.redis_cluster",
		},
		"sentinel with bolt": {
			values: "config: {revocation: {redis_sentinel: {master_name: m, addrs: ['s:26379']}}}",
			want:   "set config.revocation.store: redis",
		},
		"cluster with memory": {
			values: "config: {revocation: {store: memory, redis_cluster: {addrs: ['r:6379']}}}",
			want:   "config.revocation.store is \"memory\": set config.revocation.store: redis",
		},
		"url and sentinel": {
			values: "config: {revocation: {store: redis, redis_sentinel: {master_name: m, addrs: ['s:26379']}}}\nredis: {url: 'redis://r:6379/0'}",
			want:   "set only one of redis.url / redis.existingSecret, config.revocation.redis_sentinel and config.revocation.redis_cluster",
		},
		"url secret and cluster": {
			values: "config: {revocation: {store: redis, redis_cluster: {addrs: ['r:6379']}}}\nredis: {existingSecret: r}",
			want:   "set only one of redis.url / redis.existingSecret",
		},
		"sentinel and cluster": {
			values: "config: {revocation: {store: redis, redis_sentinel: {master_name: m, addrs: ['s:26379']}, redis_cluster: {addrs: ['r:6379']}}}",
			want:   "set only one of",
		},
		"sentinel password without sentinel": {
			values: "config: {revocation: {store: redis, redis_cluster: {addrs: ['r:6379']}}}\nredis: {sentinel: {passwordSecret: {name: pw}}}",
			want:   "redis.sentinel.passwordSecret / redis.sentinel.sentinelPasswordSecret need config.revocation.redis_sentinel",
		},
		"cluster password without cluster": {
			values: "config: {revocation: {store: redis}}\nredis: {url: 'redis://r:6379/0', cluster: {passwordSecret: {name: pw}}}",
			want:   "redis.cluster.passwordSecret needs config.revocation.redis_cluster",
		},
		// Schema: Redis topologies and rate limits.
		"cluster without addrs": {
			values: "config: {revocation: {store: redis, redis_cluster: {addrs: []}}}",
			want:   "at '/config/revocation/redis_cluster/addrs'",
		},
		"cluster addr without a port": {
			values: "config: {revocation: {store: redis, redis_cluster: {addrs: [redis-0]}}}",
			want:   "at '/config/revocation/redis_cluster/addrs/0'",
		},
		"unknown cluster key": {
			values: "config: {revocation: {store: redis, redis_cluster: {addrs: ['r:6379'], seeds: ['r:6379']}}}",
			want:   "additional properties 'seeds' not allowed",
		},
		"cluster password file set by hand": {
			values: "config: {revocation: {store: redis, redis_cluster: {addrs: ['r:6379'], password_file: /pw}}}",
			want:   "additional properties 'password_file' not allowed",
		},
		"sentinel without a master name": {
			values: "config: {revocation: {store: redis, redis_sentinel: {addrs: ['s:26379']}}}",
			want:   "missing property 'master_name'",
		},
		"sentinel password secret without a key": {
			values: "config: {revocation: {store: redis, redis_sentinel: {master_name: m, addrs: ['s:26379']}}}\nredis: {sentinel: {passwordSecret: {name: pw, key: ''}}}",
			want:   "at '/redis/sentinel/passwordSecret/key'",
		},
		"unknown redis value": {
			values: "redis: {sentinel: {password: hunter2}}",
			want:   "additional properties 'password' not allowed",
		},
		"redis username with a space": {
			values: "config: {revocation: {store: redis, redis_username: 'a b'}}\nredis: {url: 'redis://r:6379/0'}",
			want:   "at '/config/revocation/redis_username'",
		},
		"token rate limit burst zero": {
			values: "config: {token_endpoint_rate_limit: {burst: 0}}",
			want:   "at '/config/token_endpoint_rate_limit/burst'",
		},
		"token rate limit too high": {
			values: "config: {token_endpoint_rate_limit: {requests_per_second: 1000001}}",
			want:   "at '/config/token_endpoint_rate_limit/requests_per_second'",
		},
		"unknown token rate limit key": {
			values: "config: {token_endpoint_rate_limit: {rate: 5}}",
			want:   "additional properties 'rate' not allowed",
		},
		"logout rate limit max clients": {
			values: "config: {backchannel_logout_rate_limit: {max_clients: 10000001}}",
			want:   "at '/config/backchannel_logout_rate_limit/max_clients'",
		},
		"logout rate limit negative total": {
			values: "config: {backchannel_logout_rate_limit: {total_requests_per_second: -1}}",
			want:   "at '/config/backchannel_logout_rate_limit/total_requests_per_second'",
		},
		"logout rate limit header": {
			values: "config: {backchannel_logout_rate_limit: {client_ip_header: 'X Forwarded For'}}",
			want:   "at '/config/backchannel_logout_rate_limit/client_ip_header'",
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
		"sentinel with passwords":             "replicaCount: 2\nconfig: {revocation: {store: redis, redis_username: authz, redis_sentinel: {master_name: mymaster, addrs: ['s-0:26379', 's-1:26379'], tls: true}}}\nredis: {sentinel: {passwordSecret: {name: pw}, sentinelPasswordSecret: {name: spw, key: sentinel}}}\nissuer: {existingSecret: k}",
		"sentinel without passwords":          "config: {revocation: {store: redis, redis_sentinel: {master_name: mymaster, addrs: ['s-0:26379']}}}",
		"cluster with a password":             "config: {revocation: {store: redis, redis_cluster: {addrs: ['r-0:6379', '[::1]:6379'], tls: true}}}\nredis: {cluster: {passwordSecret: {name: pw}}}",
		"rate limits":                         "config: {token_endpoint_rate_limit: {requests_per_second: 0, burst: 1, max_clients: 10000000, client_ip_header: x-forwarded-for}, backchannel_logout_rate_limit: {requests_per_second: 1000000, burst: 1000000, total_requests_per_second: 0, total_burst: 1, max_clients: 1, client_ip_header: x-real-ip}}",
		"full rule":                           "config: {rules: [{match: {path_prefix: /admin, methods: [POST, DELETE], host: api.example.com}, providers: [self], require_scopes: [admin], require_claims: {tenant: acme}, dry_run: true}]}",
	}
	for name, values := range tests {
		t.Run(name, func(t *testing.T) {
			m := parseRendered(t, mustRender(t, valuesYAML(t, values)))
			requireSpecConfig(t, configOf(t, m.get(t, "ConfigMap")))
		})
	}
}
