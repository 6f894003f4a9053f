package chart

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

// Release every render uses unless a test says otherwise.
const (
	releaseName      = "jwt-authz"
	releaseNamespace = "auth"
)

// repoRoot is the repository root: two levels above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func chartDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(repoRoot(t), "charts", "jwt-authz")
}

var (
	loadOnce   sync.Once
	loadedOnce *chart.Chart
	loadErr    error
)

// loadChart loads the chart from disk once per test binary. Renders must not
// modify it: Helm's engine only reads the chart.
func loadChart(t testing.TB) *chart.Chart {
	t.Helper()
	loadOnce.Do(func() { loadedOnce, loadErr = loader.Load(chartDir(t)) })
	if loadErr != nil {
		t.Fatalf("load chart: %v", loadErr)
	}
	return loadedOnce
}

// renderOpts names the release a render is for.
type renderOpts struct {
	name, namespace string
}

// render renders the chart as `helm install` would: user values coalesced
// with values.yaml, validated against values.schema.json, then every
// template executed. NOTES.txt is returned too, under its own key.
func render(t testing.TB, values map[string]any) (map[string]string, error) {
	t.Helper()
	return renderWith(t, values, renderOpts{name: releaseName, namespace: releaseNamespace})
}

func renderWith(t testing.TB, values map[string]any, o renderOpts) (map[string]string, error) {
	t.Helper()
	c := loadChart(t)
	if values == nil {
		values = map[string]any{}
	}
	vals, err := chartutil.ToRenderValues(c, values, chartutil.ReleaseOptions{
		Name:      o.name,
		Namespace: o.namespace,
		Revision:  1,
		IsInstall: true,
	}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	return engine.Render(c, vals)
}

// mustRender renders and fails the test on any error.
func mustRender(t testing.TB, values map[string]any) map[string]string {
	t.Helper()
	out, err := render(t, values)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return out
}

// valuesYAML parses a YAML document of values.
func valuesYAML(t testing.TB, doc string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValues([]byte(doc))
	if err != nil {
		t.Fatalf("parse values: %v\n%s", err, doc)
	}
	return v.AsMap()
}

// valuesFile reads a values file.
func valuesFile(t testing.TB, path string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValuesFile(path)
	if err != nil {
		t.Fatalf("read values %s: %v", path, err)
	}
	return v.AsMap()
}

// object is one parsed Kubernetes manifest.
type object map[string]any

func (o object) kind() string { s, _ := o["kind"].(string); return s }

func (o object) name() string { return str(dig(o, "metadata", "name")) }

// manifests is the rendered output as objects, in a stable order.
type manifests struct {
	objects []object
	notes   string
}

// parseRendered splits the rendered templates into objects. Every document
// must be valid YAML with apiVersion, kind and metadata.name.
func parseRendered(t testing.TB, rendered map[string]string) manifests {
	t.Helper()
	var m manifests
	names := make([]string, 0, len(rendered))
	for name := range rendered {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		body := rendered[name]
		if strings.HasSuffix(name, "NOTES.txt") {
			m.notes = body
			continue
		}
		objs, err := parseYAMLDocs([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, body)
		}
		for _, o := range objs {
			if o["apiVersion"] == nil || o.kind() == "" || o.name() == "" {
				t.Fatalf("%s: document without apiVersion, kind or metadata.name:\n%s", name, body)
			}
		}
		m.objects = append(m.objects, objs...)
	}
	return m
}

// parseYAMLDocs decodes every non-empty document of a YAML stream.
func parseYAMLDocs(data []byte) ([]object, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var objs []object
	for {
		var o map[string]any
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(o) > 0 {
			objs = append(objs, o)
		}
	}
}

// get returns the only object of a kind, failing the test when there is not
// exactly one.
func (m manifests) get(t testing.TB, kind string) object {
	t.Helper()
	all := m.all(kind)
	if len(all) != 1 {
		t.Fatalf("want one %s, got %d", kind, len(all))
	}
	return all[0]
}

// all returns every object of a kind.
func (m manifests) all(kind string) []object {
	var out []object
	for _, o := range m.objects {
		if o.kind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// has reports whether an object of the kind was rendered.
func (m manifests) has(kind string) bool { return len(m.all(kind)) > 0 }

// dig walks nested maps and lists: a string key indexes a map, an int a list.
// It returns nil when any step is missing.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			mp, ok := asMap(v)
			if !ok {
				return nil
			}
			v = mp[k]
		case int:
			l, ok := v.([]any)
			if !ok || k < 0 || k >= len(l) {
				return nil
			}
			v = l[k]
		default:
			return nil
		}
	}
	return v
}

func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case object:
		return m, true
	}
	return nil, false
}

func str(v any) string { s, _ := v.(string); return s }

// container returns the first container of a Deployment or Pod.
func container(o object) map[string]any {
	spec := dig(o, "spec")
	if o.kind() == "Deployment" {
		spec = dig(o, "spec", "template", "spec")
	}
	c, _ := dig(spec, "containers", 0).(map[string]any)
	return c
}

// podSpec returns the pod spec of a Deployment.
func podSpec(o object) map[string]any {
	s, _ := dig(o, "spec", "template", "spec").(map[string]any)
	return s
}

// configOf returns the config file embedded in a ConfigMap, parsed.
func configOf(t testing.TB, cm object) map[string]any {
	t.Helper()
	raw := str(dig(cm, "data", "config.yaml"))
	if raw == "" {
		t.Fatalf("ConfigMap %s has no data.config.yaml", cm.name())
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("ConfigMap %s: config.yaml is not YAML: %v\n%s", cm.name(), err, raw)
	}
	return cfg
}

// readFile reads a file of the repository.
func readFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
