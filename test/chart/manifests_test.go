package chart

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// plainManifests parses manifests/*.yaml except kustomization.yaml.
func plainManifests(t *testing.T) (manifests, []string) {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "manifests")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifests
	var names []string
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		names = append(names, filepath.Base(f))
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := parseYAMLDocs(raw)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		if len(objs) != 1 {
			t.Fatalf("%s: want one object per file, got %d", filepath.Base(f), len(objs))
		}
		m.objects = append(m.objects, objs...)
	}
	return m, names
}

// TestKustomization checks that kustomization.yaml lists every manifest.
func TestKustomization(t *testing.T) {
	_, files := plainManifests(t)
	var k struct {
		APIVersion string   `yaml:"apiVersion"`
		Kind       string   `yaml:"kind"`
		Namespace  string   `yaml:"namespace"`
		Resources  []string `yaml:"resources"`
	}
	if err := yaml.Unmarshal(readFile(t, "manifests/kustomization.yaml"), &k); err != nil {
		t.Fatal(err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" || k.Namespace != "jwt-authz" {
		t.Errorf("kustomization header = %s %s %s", k.APIVersion, k.Kind, k.Namespace)
	}
	res := slices.Clone(k.Resources)
	slices.Sort(res)
	if !slices.Equal(res, files) {
		t.Errorf("resources = %v, want every manifest %v", res, files)
	}
	for _, want := range []string{"namespace.yaml", "serviceaccount.yaml", "configmap.yaml", "deployment.yaml", "service.yaml"} {
		if !slices.Contains(files, want) {
			t.Errorf("manifests/ lacks %s", want)
		}
	}
}

// TestManifestsMatchChart checks that the plain manifests are the chart's
// defaults rendered for release jwt-authz in namespace jwt-authz: the same
// config, pod spec, Service and claim, with the Helm-only labels left out.
func TestManifestsMatchChart(t *testing.T) {
	plain, _ := plainManifests(t)
	out, err := renderWith(t, nil, renderOpts{name: "jwt-authz", namespace: "jwt-authz"})
	if err != nil {
		t.Fatal(err)
	}
	chart := parseRendered(t, out)

	tests := map[string]struct {
		kind string
		path []any
	}{
		"config file":         {"ConfigMap", nil},
		"pod spec":            {"Deployment", []any{"spec", "template", "spec"}},
		"replicas":            {"Deployment", []any{"spec", "replicas"}},
		"strategy":            {"Deployment", []any{"spec", "strategy"}},
		"deployment selector": {"Deployment", []any{"spec", "selector"}},
		"service spec":        {"Service", []any{"spec"}},
		"claim spec":          {"PersistentVolumeClaim", []any{"spec"}},
		"service account":     {"ServiceAccount", []any{"automountServiceAccountToken"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, c := plain.get(t, tc.kind), chart.get(t, tc.kind)
			if p.name() != c.name() || dig(p, "metadata", "namespace") != dig(c, "metadata", "namespace") {
				t.Errorf("%s is %s/%v, chart renders %s/%v", tc.kind, dig(p, "metadata", "namespace"), p.name(), dig(c, "metadata", "namespace"), c.name())
			}
			var got, want any
			if tc.kind == "ConfigMap" {
				got, want = configOf(t, p), configOf(t, c)
			} else {
				got, want = dig(p, tc.path...), dig(c, tc.path...)
			}
			if want == nil || !reflect.DeepEqual(got, want) {
				t.Errorf("manifests/ and the chart differ:\nmanifests: %v\nchart:     %v", got, want)
			}
		})
	}

	for _, p := range plain.objects {
		if p.kind() == "Namespace" {
			continue
		}
		t.Run("labels "+p.kind(), func(t *testing.T) {
			want := map[string]any{}
			for k, v := range dig(chart.get(t, p.kind()), "metadata", "labels").(map[string]any) {
				if k != "helm.sh/chart" && k != "app.kubernetes.io/managed-by" {
					want[k] = v
				}
			}
			if got := dig(p, "metadata", "labels"); !reflect.DeepEqual(got, want) {
				t.Errorf("labels = %v, want %v", got, want)
			}
		})
	}
}

// TestManifestsConfig checks the plain config file against the documented keys and, once
// the command builds, with `jwt-authz config validate`.
func TestManifestsConfig(t *testing.T) {
	plain, _ := plainManifests(t)
	cm := plain.get(t, "ConfigMap")
	requireSpecConfig(t, configOf(t, cm))
	validateConfig(t, str(dig(cm, "data", "config.yaml")))
}
