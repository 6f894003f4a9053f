package chart

import (
	"reflect"
	"strings"
	"testing"
)

// TestOptInObjects checks that each opt-in object appears only when enabled
// and points at the release's pods.
func TestOptInObjects(t *testing.T) {
	tests := map[string]struct {
		values string
		kind   string
		check  func(t *testing.T, m manifests, o object)
	}{
		"ServiceMonitor": {
			values: "serviceMonitor: {enabled: true, labels: {release: prom}, interval: 15s}",
			kind:   "ServiceMonitor",
			check: func(t *testing.T, _ manifests, o object) {
				ep := dig(o, "spec", "endpoints", 0)
				if dig(ep, "port") != "metrics" || dig(ep, "path") != "/metrics" || dig(ep, "interval") != "15s" {
					t.Errorf("endpoint = %v, want port metrics, path /metrics, interval 15s", ep)
				}
				if dig(o, "metadata", "labels", "release") != "prom" {
					t.Errorf("labels = %v, want release: prom", dig(o, "metadata", "labels"))
				}
				requireSelectorLabels(t, dig(o, "spec", "selector", "matchLabels"))
			},
		},
		"PrometheusRule": {
			values: "prometheusRule: {enabled: true, alertLabels: {team: platform}, disabledAlerts: [JwtAuthzDryRunDenials]}",
			kind:   "PrometheusRule",
			check: func(t *testing.T, _ manifests, o object) {
				rules, _ := dig(o, "spec", "groups", 0, "rules").([]any)
				if len(rules) != len(chartAlerts)-1 {
					t.Errorf("got %d rules, want %d", len(rules), len(chartAlerts)-1)
				}
				for _, r := range rules {
					if dig(r, "alert") == "JwtAuthzDryRunDenials" {
						t.Error("disabled alert JwtAuthzDryRunDenials rendered")
					}
					if dig(r, "labels", "team") != "platform" {
						t.Errorf("%v: labels = %v, want team: platform", dig(r, "alert"), dig(r, "labels"))
					}
					if expr := str(dig(r, "expr")); !strings.Contains(expr, `namespace="auth",job="jwt-authz"`) {
						t.Errorf("%v: expr does not select the release: %s", dig(r, "alert"), expr)
					}
				}
			},
		},
		"NetworkPolicy": {
			values: "networkPolicy: {enabled: true, clientFrom: [{namespaceSelector: {matchLabels: {mesh: 'on'}}}]}",
			kind:   "NetworkPolicy",
			check: func(t *testing.T, _ manifests, o object) {
				requireSelectorLabels(t, dig(o, "spec", "podSelector", "matchLabels"))
				if got := dig(o, "spec", "policyTypes"); !reflect.DeepEqual(got, []any{"Ingress"}) {
					t.Errorf("policyTypes = %v, want [Ingress] (egress left open)", got)
				}
				if got := dig(o, "spec", "ingress", 0, "from", 0, "namespaceSelector", "matchLabels", "mesh"); got != "on" {
					t.Errorf("client ingress from = %v", dig(o, "spec", "ingress", 0, "from"))
				}
				admin := dig(o, "spec", "ingress", 1)
				if dig(admin, "ports", 0, "port") != "admin" {
					t.Errorf("second ingress rule = %v, want the admin port", admin)
				}
				if dig(admin, "from", 0, "podSelector", "matchLabels", "app.kubernetes.io/instance") != releaseName {
					t.Errorf("admin ingress from = %v, want this release's pods", dig(admin, "from"))
				}
			},
		},
		"NetworkPolicy with egress": {
			values: "networkPolicy: {enabled: true, egress: [{ports: [{port: 53, protocol: UDP}]}]}",
			kind:   "NetworkPolicy",
			check: func(t *testing.T, _ manifests, o object) {
				if got := dig(o, "spec", "policyTypes"); !reflect.DeepEqual(got, []any{"Ingress", "Egress"}) {
					t.Errorf("policyTypes = %v, want [Ingress Egress]", got)
				}
				if dig(o, "spec", "egress", 0, "ports", 0, "port") != 53 {
					t.Errorf("egress = %v", dig(o, "spec", "egress"))
				}
			},
		},
		"PodDisruptionBudget": {
			values: "podDisruptionBudget: {enabled: true}",
			kind:   "PodDisruptionBudget",
			check: func(t *testing.T, _ manifests, o object) {
				if dig(o, "spec", "maxUnavailable") != 1 || dig(o, "spec", "minAvailable") != nil {
					t.Errorf("spec = %v, want maxUnavailable 1 only", dig(o, "spec"))
				}
				requireSelectorLabels(t, dig(o, "spec", "selector", "matchLabels"))
			},
		},
		"PodDisruptionBudget minAvailable": {
			values: "podDisruptionBudget: {enabled: true, minAvailable: '50%'}",
			kind:   "PodDisruptionBudget",
			check: func(t *testing.T, _ manifests, o object) {
				if dig(o, "spec", "minAvailable") != "50%" || dig(o, "spec", "maxUnavailable") != nil {
					t.Errorf("spec = %v, want minAvailable 50%% only", dig(o, "spec"))
				}
			},
		},
		"HorizontalPodAutoscaler": {
			values: "autoscaling: {enabled: true, minReplicas: 3, maxReplicas: 9, targetMemoryUtilizationPercentage: 80}\nconfig: {revocation: {store: redis}}\nredis: {url: 'redis://r:6379/0'}\nissuer: {existingSecret: k}",
			kind:   "HorizontalPodAutoscaler",
			check: func(t *testing.T, m manifests, o object) {
				if dig(o, "spec", "minReplicas") != 3 || dig(o, "spec", "maxReplicas") != 9 {
					t.Errorf("spec = %v", dig(o, "spec"))
				}
				if n := len(dig(o, "spec", "metrics").([]any)); n != 2 {
					t.Errorf("got %d metrics, want cpu and memory", n)
				}
				if r := dig(m.get(t, "Deployment"), "spec", "replicas"); r != nil {
					t.Errorf("Deployment replicas = %v, want unset under an HPA", r)
				}
			},
		},
		"generated signing key Secret": {
			values: "issuer: {generateSigningKey: true}",
			kind:   "Secret",
			check: func(t *testing.T, m manifests, _ object) {
				var found bool
				for _, s := range m.all("Secret") {
					if s.name() != "jwt-authz-signing-key" {
						continue
					}
					found = true
					if dig(s, "metadata", "annotations", "helm.sh/resource-policy") != "keep" {
						t.Error("generated signing key Secret is not kept on uninstall")
					}
					if pem := decodeSecret(t, s, "signing-key.pem"); !strings.HasPrefix(pem, "-----BEGIN PRIVATE KEY-----") {
						t.Errorf("signing key is not a PKCS#8 PEM (ed25519): %.40q", pem)
					}
				}
				if !found {
					t.Fatal("no jwt-authz-signing-key Secret")
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if !strings.HasPrefix(name, "generated") {
				if parseRendered(t, mustRender(t, nil)).has(tc.kind) {
					t.Fatalf("%s rendered by default", tc.kind)
				}
			}
			m := parseRendered(t, mustRender(t, valuesYAML(t, tc.values)))
			all := m.all(tc.kind)
			if len(all) == 0 {
				t.Fatalf("no %s rendered", tc.kind)
			}
			tc.check(t, m, all[0])
		})
	}
}

// TestSigningKeyType checks that a generated key fits the issuer algorithm.
func TestSigningKeyType(t *testing.T) {
	tests := map[string]string{
		"EdDSA": "-----BEGIN PRIVATE KEY-----",
		"ES256": "-----BEGIN EC PRIVATE KEY-----",
	}
	for alg, prefix := range tests {
		t.Run(alg, func(t *testing.T) {
			m := parseRendered(t, mustRender(t, valuesYAML(t, "issuer: {generateSigningKey: true}\nconfig: {issuer: {algorithm: "+alg+"}}")))
			for _, s := range m.all("Secret") {
				if s.name() == "jwt-authz-signing-key" {
					if pem := decodeSecret(t, s, "signing-key.pem"); !strings.HasPrefix(pem, prefix) {
						t.Errorf("key = %.40q, want %s", pem, prefix)
					}
					return
				}
			}
			t.Fatal("no jwt-authz-signing-key Secret")
		})
	}
}

// TestSecretsMounted checks that every Secret the config names a file of is
// mounted where the config says, and that the Redis URL Secret becomes the
// environment variable.
func TestSecretsMounted(t *testing.T) {
	m := parseRendered(t, mustRender(t, valuesYAML(t, `
replicaCount: 2
config: {revocation: {store: redis}}
redis: {existingSecret: redis-creds, secretKey: url}
issuer: {existingSecret: signing, secretKey: now.pem, previousSecretKeys: [before.pem]}
adminToken: {existingSecret: ops}
`)))
	if m.has("Secret") {
		t.Errorf("Secrets rendered although every one exists: %v", m.all("Secret"))
	}
	dep := m.get(t, "Deployment")
	vols := map[string]any{}
	for _, v := range dig(podSpec(dep), "volumes").([]any) {
		vols[str(dig(v, "name"))] = v
	}
	if got := dig(vols["signing-key"], "secret", "secretName"); got != "signing" {
		t.Errorf("signing-key volume secret = %v, want signing", got)
	}
	items, _ := dig(vols["signing-key"], "secret", "items").([]any)
	if len(items) != 2 || dig(items[0], "key") != "now.pem" || dig(items[1], "key") != "before.pem" {
		t.Errorf("signing-key items = %v, want now.pem and before.pem", items)
	}
	if got := dig(vols["admin-token"], "secret", "secretName"); got != "ops" {
		t.Errorf("admin-token volume secret = %v, want ops", got)
	}
	env := dig(container(dep), "env", 0)
	if dig(env, "name") != "JWT_AUTHZ_REVOCATION_REDIS_URL" ||
		dig(env, "valueFrom", "secretKeyRef", "name") != "redis-creds" ||
		dig(env, "valueFrom", "secretKeyRef", "key") != "url" {
		t.Errorf("env[0] = %v, want JWT_AUTHZ_REVOCATION_REDIS_URL from redis-creds/url", env)
	}
	if typ := dig(dep, "spec", "strategy", "type"); typ != "RollingUpdate" {
		t.Errorf("strategy = %v, want RollingUpdate without a bbolt claim", typ)
	}
	for _, v := range dig(podSpec(dep), "volumes").([]any) {
		if dig(v, "name") == "data" && dig(v, "emptyDir") == nil {
			t.Errorf("data volume = %v, want an emptyDir with redis", v)
		}
	}
}

// TestAdminTokenSecret checks the generated admin token.
func TestAdminTokenSecret(t *testing.T) {
	token := func() string {
		m := parseRendered(t, mustRender(t, nil))
		for _, s := range m.all("Secret") {
			if s.name() == "jwt-authz-admin-token" {
				return decodeSecret(t, s, "token")
			}
		}
		t.Fatal("no jwt-authz-admin-token Secret")
		return ""
	}
	a, b := token(), token()
	if len(a) != 48 || strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
		t.Errorf("token = %q, want 48 alphanumerics", a)
	}
	if a == b {
		t.Error("two installs got the same admin token")
	}
}
