package examples

import (
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"sigs.k8s.io/yaml"
)

// renderChart renders charts/jwt-authz as `helm install` would, with the
// values of a file under the chart's ci/ directory.
func renderChart(t *testing.T, valuesFile string) map[string]string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "charts", "jwt-authz")
	c, err := loader.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := chartutil.ReadValuesFile(filepath.Join(dir, "ci", valuesFile))
	if err != nil {
		t.Fatal(err)
	}
	vals, err := chartutil.ToRenderValues(c, v.AsMap(), chartutil.ReleaseOptions{
		Name: "jwt-authz", Namespace: "auth", Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.Render(c, vals)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// notesMeshConfig cuts the meshConfig snippet out of NOTES.txt: the
// indented block from "  meshConfig:" to the next blank line, dedented.
func notesMeshConfig(t *testing.T, notes string) []byte {
	t.Helper()
	lines := strings.Split(notes, "\n")
	for i, l := range lines {
		if l != "  meshConfig:" {
			continue
		}
		var block []string
		for _, b := range lines[i:] {
			if strings.TrimSpace(b) == "" {
				break
			}
			block = append(block, strings.TrimPrefix(b, "  "))
		}
		return []byte(strings.Join(block, "\n"))
	}
	t.Fatalf("NOTES.txt prints no meshConfig snippet:\n%s", notes)
	return nil
}

// TestChartIstio renders the chart with ci/istio-values.yaml and decodes the
// NOTES meshConfig snippet and every AuthorizationPolicy strictly into the
// istio.io/api types, the same way as the examples.
func TestChartIstio(t *testing.T) {
	out := renderChart(t, "istio-values.yaml")
	var notes string
	var policies [][]byte
	for name, body := range out {
		if strings.HasSuffix(name, "NOTES.txt") {
			notes = body
			continue
		}
		for _, doc := range splitDocs([]byte(body)) {
			var probe struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal(doc, &probe); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if probe.Kind == "AuthorizationPolicy" {
				policies = append(policies, doc)
			}
		}
	}
	mc, err := decodeMeshConfigValues(notesMeshConfig(t, notes))
	if err != nil {
		t.Fatalf("NOTES meshConfig: %v", err)
	}
	providers, err := checkMeshConfig(mc)
	if err != nil {
		t.Fatalf("NOTES meshConfig: %v", err)
	}
	if got := mc.GetExtensionProviders()[0].GetEnvoyExtAuthzGrpc().GetService(); got != "jwt-authz.auth.svc.cluster.local" {
		t.Errorf("NOTES provider service = %q", got)
	}
	if len(policies) != 2 {
		t.Fatalf("rendered %d AuthorizationPolicy resources, want the 2 of ci/istio-values.yaml", len(policies))
	}
	for _, doc := range policies {
		r, ap, err := decodeAuthorizationPolicy(doc)
		if err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		if err := checkCustomPolicy(ap, providers); err != nil {
			t.Errorf("%s: %v", r.Metadata.Name, err)
		}
	}
}
