package chart

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
)

// wantSelector is the selector of the default release: name and instance
// only, because a Deployment's selector cannot change after creation.
var wantSelector = map[string]any{
	"app.kubernetes.io/name":     "jwt-authz",
	"app.kubernetes.io/instance": releaseName,
}

func requireSelectorLabels(t *testing.T, got any) {
	t.Helper()
	if !reflect.DeepEqual(got, wantSelector) {
		t.Errorf("selector = %v, want %v", got, wantSelector)
	}
}

// decodeSecret returns one base64-decoded value of a Secret's data.
func decodeSecret(t *testing.T, s object, key string) string {
	t.Helper()
	raw := str(dig(s, "data", key))
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		t.Fatalf("Secret %s data %s is not base64: %v", s.name(), key, err)
	}
	return string(b)
}

// TestLabels checks the recommended labels on every object and that the
// Service and Deployment select exactly the pods.
func TestLabels(t *testing.T) {
	m := parseRendered(t, mustRender(t, valuesYAML(t, `
commonLabels: {cost-center: auth}
serviceMonitor: {enabled: true}
prometheusRule: {enabled: true}
networkPolicy: {enabled: true}
podDisruptionBudget: {enabled: true}
`)))
	for _, o := range m.objects {
		t.Run(o.kind()+"/"+o.name(), func(t *testing.T) {
			labels, _ := dig(o, "metadata", "labels").(map[string]any)
			if labels["app.kubernetes.io/instance"] != releaseName || labels["app.kubernetes.io/managed-by"] != "Helm" {
				t.Errorf("labels = %v, want instance and managed-by", labels)
			}
			if !strings.HasPrefix(str(labels["helm.sh/chart"]), "jwt-authz-") {
				t.Errorf("helm.sh/chart = %v", labels["helm.sh/chart"])
			}
			if o.kind() == "Pod" {
				// The helm test pod must not be selected by the Service.
				if labels["app.kubernetes.io/name"] == wantSelector["app.kubernetes.io/name"] {
					t.Errorf("test pod carries the selector labels: %v", labels)
				}
				return
			}
			if labels["cost-center"] != "auth" {
				t.Errorf("commonLabels missing: %v", labels)
			}
			if labels["app.kubernetes.io/name"] != "jwt-authz" || labels["app.kubernetes.io/version"] == nil {
				t.Errorf("labels = %v, want name and version", labels)
			}
			if ns := dig(o, "metadata", "namespace"); ns != releaseNamespace {
				t.Errorf("namespace = %v, want %s", ns, releaseNamespace)
			}
		})
	}

	dep := m.get(t, "Deployment")
	requireSelectorLabels(t, dig(dep, "spec", "selector", "matchLabels"))
	requireSelectorLabels(t, dig(m.get(t, "Service"), "spec", "selector"))
	podLabels, _ := dig(dep, "spec", "template", "metadata", "labels").(map[string]any)
	for k, v := range wantSelector {
		if podLabels[k] != v {
			t.Errorf("pod label %s = %v, want %v", k, podLabels[k], v)
		}
	}
}

// TestNames checks name overrides and the 63-character limit.
func TestNames(t *testing.T) {
	long := strings.Repeat("a", 70)
	tests := map[string]struct {
		release, values string
		want            string
	}{
		"release without the chart name":    {"prod", "", "prod-jwt-authz"},
		"release containing the chart name": {"jwt-authz-prod", "", "jwt-authz-prod"},
		"nameOverride":                      {"prod", "nameOverride: authz", "prod-authz"},
		"fullnameOverride":                  {"prod", "fullnameOverride: edge-authz", "edge-authz"},
		"long release name":                 {long[:60], "", long[:60] + "-jw"},
		"long fullnameOverride":             {"prod", "fullnameOverride: " + long, long[:63]},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := renderWith(t, valuesYAML(t, tc.values), renderOpts{name: tc.release, namespace: "ns"})
			if err != nil {
				t.Fatal(err)
			}
			m := parseRendered(t, out)
			for _, kind := range []string{"Deployment", "Service", "ConfigMap", "ServiceAccount"} {
				if got := m.get(t, kind).name(); got != tc.want {
					t.Errorf("%s name = %q, want %q", kind, got, tc.want)
				}
			}
			for _, o := range m.objects {
				if n := len(o.name()); n > 63 {
					t.Errorf("%s %s: name of %d characters", o.kind(), o.name(), n)
				}
			}
		})
	}
}

// TestImage checks the image reference: tag defaulting to appVersion and an
// optional digest.
func TestImage(t *testing.T) {
	app := loadChart(t).Metadata.AppVersion
	digest := "sha256:" + strings.Repeat("0f", 32)
	tests := map[string]struct {
		values, want string
	}{
		"appVersion":  {"", "ghcr.io/jwt-authz/jwt-authz:" + app},
		"tag":         {"image: {tag: '1.2.3'}", "ghcr.io/jwt-authz/jwt-authz:1.2.3"},
		"digest":      {"image: {digest: '" + digest + "'}", "ghcr.io/jwt-authz/jwt-authz:" + app + "@" + digest},
		"tag, digest": {"image: {tag: v2, digest: '" + digest + "'}", "ghcr.io/jwt-authz/jwt-authz:v2@" + digest},
		"repository":  {"image: {repository: registry.local/authz}", "registry.local/authz:" + app},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := parseRendered(t, mustRender(t, valuesYAML(t, tc.values)))
			if got := dig(container(m.get(t, "Deployment")), "image"); got != tc.want {
				t.Errorf("image = %v, want %s", got, tc.want)
			}
		})
	}
}
