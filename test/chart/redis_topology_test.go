package chart

import (
	"reflect"
	"testing"
)

// redisTopologies are the Sentinel and Cluster scenarios: values, the
// revocation section the ConfigMap must hold, and the Secret volumes the
// pod must mount read-only (volume name -> secret name, key, mount path).
var redisTopologies = map[string]struct {
	values  string
	want    map[string]any
	volumes map[string][3]string
}{
	"sentinel": {
		values: `
replicaCount: 2
issuer: {existingSecret: signing}
redis:
  sentinel:
    passwordSecret: {name: redis-auth, key: redis-password}
    sentinelPasswordSecret: {name: sentinel-auth}
config:
  revocation:
    store: redis
    redis_username: jwt-authz
    redis_sentinel:
      master_name: mymaster
      addrs: [redis-node-0.redis-headless:26379, redis-node-1.redis-headless:26379]
      tls: true
`,
		want: map[string]any{
			"store":          "redis",
			"redis_username": "jwt-authz",
			"redis_sentinel": map[string]any{
				"master_name":            "mymaster",
				"addrs":                  []any{"redis-node-0.redis-headless:26379", "redis-node-1.redis-headless:26379"},
				"tls":                    true,
				"password_file":          "/var/run/secrets/jwt-authz/redis/redis-password",
				"sentinel_password_file": "/var/run/secrets/jwt-authz/redis-sentinel/password",
			},
		},
		volumes: map[string][3]string{
			"redis-password":          {"redis-auth", "redis-password", "/var/run/secrets/jwt-authz/redis"},
			"redis-sentinel-password": {"sentinel-auth", "password", "/var/run/secrets/jwt-authz/redis-sentinel"},
		},
	},
	"cluster": {
		values: `
autoscaling: {enabled: true}
issuer: {generateSigningKey: true}
redis:
  cluster:
    passwordSecret: {name: elasticache-auth, key: token}
config:
  revocation:
    store: redis
    redis_cluster:
      addrs: [clustercfg.jwt-authz.abc123.use1.cache.amazonaws.com:6379]
      tls: true
`,
		want: map[string]any{
			"store": "redis",
			"redis_cluster": map[string]any{
				"addrs":         []any{"clustercfg.jwt-authz.abc123.use1.cache.amazonaws.com:6379"},
				"tls":           true,
				"password_file": "/var/run/secrets/jwt-authz/redis/token",
			},
		},
		volumes: map[string][3]string{
			"redis-password": {"elasticache-auth", "token", "/var/run/secrets/jwt-authz/redis"},
		},
	},
	"cluster without a password": {
		values: `
config:
  revocation:
    store: redis
    redis_cluster: {addrs: ['redis-0:6379', 'redis-1:6379']}
`,
		want: map[string]any{
			"store":         "redis",
			"redis_cluster": map[string]any{"addrs": []any{"redis-0:6379", "redis-1:6379"}},
		},
	},
}

// TestRedisTopologies renders the Sentinel and Cluster scenarios and checks
// the config file (documented keys, password files at the mounted paths,
// accepted by `jwt-authz config validate`) and the Secret volumes.
func TestRedisTopologies(t *testing.T) {
	for name, tc := range redisTopologies {
		t.Run(name, func(t *testing.T) {
			m := parseRendered(t, mustRender(t, valuesYAML(t, tc.values)))
			cm := m.get(t, "ConfigMap")
			cfg := configOf(t, cm)
			requireSpecConfig(t, cfg)
			rev, _ := cfg["revocation"].(map[string]any)
			for k, want := range tc.want {
				if got := rev[k]; !reflect.DeepEqual(got, want) {
					t.Errorf("revocation.%s = %#v, want %#v", k, got, want)
				}
			}
			if rev["redis_url"] != nil {
				t.Errorf("revocation.redis_url = %v, want it unset", rev["redis_url"])
			}

			dep := m.get(t, "Deployment")
			mounts := map[string]any{}
			for _, vm := range dig(container(dep), "volumeMounts").([]any) {
				mounts[str(dig(vm, "name"))] = vm
			}
			vols := map[string]any{}
			for _, v := range dig(podSpec(dep), "volumes").([]any) {
				vols[str(dig(v, "name"))] = v
			}
			for _, name := range []string{"redis-password", "redis-sentinel-password"} {
				want, wanted := tc.volumes[name]
				if !wanted {
					if mounts[name] != nil || vols[name] != nil {
						t.Errorf("volume %s rendered, want none", name)
					}
					continue
				}
				secret, key, path := want[0], want[1], want[2]
				if got := dig(vols[name], "secret", "secretName"); got != secret {
					t.Errorf("volume %s secret = %v, want %s", name, got, secret)
				}
				items := []any{map[string]any{"key": key, "path": key}}
				if got := dig(vols[name], "secret", "items"); !reflect.DeepEqual(got, items) {
					t.Errorf("volume %s items = %v, want %v", name, got, items)
				}
				if got := dig(mounts[name], "mountPath"); got != path {
					t.Errorf("mount %s path = %v, want %s", name, got, path)
				}
				if got := dig(mounts[name], "readOnly"); got != true {
					t.Errorf("mount %s readOnly = %v, want true", name, got)
				}
			}
			if env := dig(container(dep), "env"); env != nil {
				t.Errorf("env = %v, want none (no URL Secret)", env)
			}
			validateConfig(t, str(dig(cm, "data", "config.yaml")))
		})
	}
}

// TestRateLimitsRendered checks that both rate limits pass into the config
// file unchanged and that jwt-authz accepts them.
func TestRateLimitsRendered(t *testing.T) {
	m := parseRendered(t, mustRender(t, valuesYAML(t, `
config:
  token_endpoint_rate_limit: {requests_per_second: 20, burst: 40, max_clients: 5000, client_ip_header: x-forwarded-for}
  backchannel_logout_rate_limit: {requests_per_second: 0, burst: 5000, total_requests_per_second: 1000, total_burst: 5000, max_clients: 100, client_ip_header: x-real-ip}
`)))
	cm := m.get(t, "ConfigMap")
	cfg := configOf(t, cm)
	requireSpecConfig(t, cfg)
	for path, want := range map[string]any{
		"token_endpoint_rate_limit.requests_per_second":     20,
		"token_endpoint_rate_limit.client_ip_header":        "x-forwarded-for",
		"backchannel_logout_rate_limit.requests_per_second": 0,
		"backchannel_logout_rate_limit.total_burst":         5000,
		"backchannel_logout_rate_limit.client_ip_header":    "x-real-ip",
	} {
		if got := dig(cfg, splitPath(path)...); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	validateConfig(t, str(dig(cm, "data", "config.yaml")))
}
