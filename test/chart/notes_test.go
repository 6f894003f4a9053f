package chart

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// notesBlock returns the indented block of NOTES.txt that starts with the
// line "  <first>", dedented, up to the next blank line.
func notesBlock(t *testing.T, notes, first string) map[string]any {
	t.Helper()
	lines := strings.Split(notes, "\n")
	for i, l := range lines {
		if l != "  "+first {
			continue
		}
		var block []string
		for _, b := range lines[i:] {
			if strings.TrimSpace(b) == "" {
				break
			}
			block = append(block, strings.TrimPrefix(b, "  "))
		}
		var out map[string]any
		if err := yaml.Unmarshal([]byte(strings.Join(block, "\n")), &out); err != nil {
			t.Fatalf("NOTES.txt block %q is not YAML: %v\n%s", first, err, strings.Join(block, "\n"))
		}
		return out
	}
	t.Fatalf("NOTES.txt has no block starting with %q:\n%s", first, notes)
	return nil
}

// TestNotesSnippets checks that the Istio and Envoy snippets NOTES.txt
// prints are valid YAML that point at this release's Service.
func TestNotesSnippets(t *testing.T) {
	notes := parseRendered(t, mustRender(t, nil)).notes
	const host = "jwt-authz.auth.svc.cluster.local"

	mesh := notesBlock(t, notes, "meshConfig:")
	p := dig(mesh, "meshConfig", "extensionProviders", 0)
	if dig(p, "name") != "jwt-authz" || dig(p, "envoyExtAuthzGrpc", "service") != host ||
		dig(p, "envoyExtAuthzGrpc", "port") != 9001 || dig(p, "envoyExtAuthzGrpc", "failOpen") != false {
		t.Errorf("extensionProviders[0] = %v", p)
	}

	policy := notesBlock(t, notes, "apiVersion: security.istio.io/v1")
	if dig(policy, "spec", "action") != "CUSTOM" || dig(policy, "spec", "provider", "name") != "jwt-authz" {
		t.Errorf("AuthorizationPolicy spec = %v", dig(policy, "spec"))
	}

	filters := notesBlock(t, notes, "http_filters:")
	authz := dig(filters, "http_filters", 0, "typed_config")
	if dig(authz, "@type") != "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz" ||
		dig(authz, "transport_api_version") != "V3" || dig(authz, "failure_mode_allow") != false ||
		dig(authz, "grpc_service", "envoy_grpc", "cluster_name") != "jwt-authz" {
		t.Errorf("ext_authz filter = %v", authz)
	}

	clusters := notesBlock(t, notes, "clusters:")
	c := dig(clusters, "clusters", 0)
	addr := dig(c, "load_assignment", "endpoints", 0, "lb_endpoints", 0, "endpoint", "address", "socket_address")
	if dig(c, "name") != "jwt-authz" || dig(addr, "address") != host || dig(addr, "port_value") != 9001 {
		t.Errorf("cluster = %v", c)
	}
	if dig(c, "typed_extension_protocol_options", "envoy.extensions.upstreams.http.v3.HttpProtocolOptions", "explicit_http_config", "http2_protocol_options") == nil {
		t.Error("cluster does not speak HTTP/2, which gRPC needs")
	}
}

// TestNotesWarnings checks that risky settings are called out after install.
func TestNotesWarnings(t *testing.T) {
	tests := map[string]struct {
		values      string
		want, avoid []string
	}{
		"defaults": {
			want:  []string{"get secret jwt-authz-admin-token", "kept on the PersistentVolumeClaim"},
			avoid: []string{"WARNING"},
		},
		"bolt on an emptyDir": {
			values: "persistence: {enabled: false}",
			want:   []string{"WARNING: revocations are kept in bbolt on an emptyDir", "a replaced pod signs with a new key"},
		},
		"admin API open": {
			values: "adminToken: {enabled: false}",
			want:   []string{"WARNING: adminToken.enabled is false"},
		},
		"memory store": {
			values: "config: {revocation: {store: memory}}",
			want:   []string{"WARNING: config.revocation.store is memory"},
		},
		"metrics behind the NetworkPolicy": {
			values: "networkPolicy: {enabled: true}\nserviceMonitor: {enabled: true}",
			want:   []string{"Prometheus cannot scrape /metrics"},
		},
		"metrics let through the NetworkPolicy": {
			values: "networkPolicy: {enabled: true, metricsFrom: [{namespaceSelector: {}}]}\nserviceMonitor: {enabled: true}",
			avoid:  []string{"WARNING"},
		},
		"dry run": {
			values: "config: {dry_run: true}",
			want:   []string{"WARNING: config.dry_run is true"},
		},
		"generated signing key": {
			values: "issuer: {generateSigningKey: true}",
			want:   []string{"helm.sh/resource-policy: keep"},
			avoid:  []string{"generates its signing key in the pod's data directory"},
		},
		"redis URL from a secret": {
			values: "config: {revocation: {store: redis}}\nredis: {existingSecret: r}\nissuer: {existingSecret: k}",
			want:   []string{"JWT_AUTHZ_REVOCATION_REDIS_URL"},
			avoid:  []string{"WARNING"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			notes := parseRendered(t, mustRender(t, valuesYAML(t, tc.values))).notes
			for _, w := range tc.want {
				if !strings.Contains(notes, w) {
					t.Errorf("NOTES.txt lacks %q", w)
				}
			}
			for _, a := range tc.avoid {
				if strings.Contains(notes, a) {
					t.Errorf("NOTES.txt contains %q", a)
				}
			}
		})
	}
}
