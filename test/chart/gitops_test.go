package chart

import (
	"sort"
	"testing"
)

// renderAll renders the chart and joins every output in name order, as
// `helm template` prints it.
func renderAll(t *testing.T, values map[string]any) string {
	t.Helper()
	out := mustRender(t, values)
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	var all string
	for _, n := range names {
		all += "# " + n + "\n" + out[n]
	}
	return all
}

// TestGitOpsRendersAreIdentical renders the chart twice with the same
// values, as Argo CD and Flux do on every sync (no cluster to lookup): with
// both secrets supplied the output is byte-identical, so a sync changes
// nothing. Without them the generated admin token changes on each render,
// which is what keygen and existingSecret are for.
func TestGitOpsRendersAreIdentical(t *testing.T) {
	for name, doc := range map[string]string{
		"existing secrets": `
adminToken: {existingSecret: jwt-authz-keys}
issuer: {existingSecret: jwt-authz-keys}
`,
		"existing secrets, previous keys": `
adminToken: {existingSecret: jwt-authz-keys}
issuer: {existingSecret: jwt-authz-keys, previousSecretKeys: [old.pem]}
`,
		"existing secrets, everything on": `
replicaCount: 2
adminToken: {existingSecret: jwt-authz-keys}
issuer: {existingSecret: jwt-authz-keys}
redis: {existingSecret: redis-url}
config: {revocation: {store: redis}}
serviceMonitor: {enabled: true}
prometheusRule: {enabled: true}
networkPolicy: {enabled: true}
podDisruptionBudget: {enabled: true}
istio: {authorizationPolicy: {enabled: true, policies: [{name: a, selector: {app: a}, paths: ["/*"]}]}}
`,
	} {
		t.Run(name, func(t *testing.T) {
			a := renderAll(t, valuesYAML(t, doc))
			b := renderAll(t, valuesYAML(t, doc))
			if a != b {
				t.Errorf("two renders differ:\n%s", lineDiff(a, b))
			}
		})
	}
	t.Run("generated admin token", func(t *testing.T) {
		if renderAll(t, nil) == renderAll(t, nil) {
			t.Error("renders without existingSecret are identical: this test no longer sees a generated secret")
		}
	})
}
