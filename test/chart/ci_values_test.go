package chart

import (
	"path/filepath"
	"testing"
)

// TestCIValues renders every chart-testing scenario in ci/ and checks what
// each one is there for.
func TestCIValues(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(chartDir(t), "ci", "*-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]func(t *testing.T, m manifests){
		"bbolt-values.yaml": func(t *testing.T, m manifests) {
			if !m.has("PersistentVolumeClaim") {
				t.Error("no PersistentVolumeClaim for bbolt")
			}
			if got := dig(configOf(t, m.get(t, "ConfigMap")), "revocation", "store"); got != "bolt" {
				t.Errorf("revocation.store = %v, want bolt", got)
			}
		},
		"redis-values.yaml": func(t *testing.T, m manifests) {
			cfg := configOf(t, m.get(t, "ConfigMap"))
			if dig(cfg, "revocation", "store") != "redis" || dig(cfg, "revocation", "redis_url") == nil {
				t.Errorf("revocation = %v, want redis with a URL", dig(cfg, "revocation"))
			}
			if m.has("PersistentVolumeClaim") {
				t.Error("PersistentVolumeClaim rendered for redis")
			}
			if r := dig(m.get(t, "Deployment"), "spec", "replicas"); r.(int) < 2 {
				t.Errorf("replicas = %v, want several", r)
			}
			if dig(cfg, "issuer", "signing_key_file") == nil {
				t.Error("replicas do not share a signing key")
			}
			sel := dig(podSpec(m.get(t, "Deployment")), "topologySpreadConstraints", 0, "labelSelector", "matchLabels")
			requireSelectorLabels(t, sel)
		},
		"istio-values.yaml": func(t *testing.T, m manifests) {
			if n := len(m.all("AuthorizationPolicy")); n != 2 {
				t.Errorf("%d AuthorizationPolicy resources, want 2", n)
			}
		},
		"servicemonitor-values.yaml": func(t *testing.T, m manifests) {
			for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "NetworkPolicy"} {
				if !m.has(kind) {
					t.Errorf("no %s", kind)
				}
			}
		},
	}
	if len(files) != len(checks) {
		t.Errorf("ci/ has %d scenarios, want %d: %v", len(files), len(checks), files)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			m := parseRendered(t, mustRender(t, valuesFile(t, f)))
			requireSpecConfig(t, configOf(t, m.get(t, "ConfigMap")))
			check, ok := checks[name]
			if !ok {
				t.Fatalf("no check for %s", name)
			}
			check(t, m)
		})
	}
}
