package chart

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
)

// TestHelmLint runs the checks of `helm lint --strict` on the chart, with its
// default values and with every ci/ scenario.
func TestHelmLint(t *testing.T) {
	scenarios, err := filepath.Glob(filepath.Join(chartDir(t), "ci", "*-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	scenarios = append([]string{""}, scenarios...)
	for _, f := range scenarios {
		name := filepath.Base(f)
		if f == "" {
			name = "defaults"
		}
		t.Run(name, func(t *testing.T) {
			values := map[string]any{}
			if f != "" {
				values = valuesFile(t, f)
			}
			linter := lint.All(chartDir(t), values, releaseNamespace, false)
			for _, msg := range linter.Messages {
				// --strict fails on warnings too; info (such as a missing
				// icon) is only advice.
				if msg.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", msg)
				}
			}
		})
	}
}

// TestChartYAML checks the fields chart users and tools rely on.
func TestChartYAML(t *testing.T) {
	md := loadChart(t).Metadata
	tests := map[string]struct {
		got  string
		want *regexp.Regexp
	}{
		"apiVersion":  {md.APIVersion, regexp.MustCompile(`^v2$`)},
		"name":        {md.Name, regexp.MustCompile(`^jwt-authz$`)},
		"type":        {md.Type, regexp.MustCompile(`^application$`)},
		"version":     {md.Version, regexp.MustCompile(`^\d+\.\d+\.\d+$`)},
		"appVersion":  {md.AppVersion, regexp.MustCompile(`^\d+\.\d+\.\d+$`)},
		"description": {md.Description, regexp.MustCompile(`ext_authz`)},
		"home":        {md.Home, regexp.MustCompile(`^https://`)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if !tc.want.MatchString(tc.got) {
				t.Errorf("%s = %q, want %s", name, tc.got, tc.want)
			}
		})
	}
	if err := md.Validate(); err != nil {
		t.Errorf("Chart.yaml: %v", err)
	}
}

// schemaFile reads values.schema.json as JSON.
func schemaFile(t *testing.T) map[string]any {
	t.Helper()
	var s map[string]any
	raw := readFile(t, "charts/jwt-authz/values.schema.json")
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	return s
}

// TestValuesSchema checks that values.schema.json is a valid draft-07 schema
// and that values.yaml passes it.
func TestValuesSchema(t *testing.T) {
	s := schemaFile(t)
	if s["$schema"] != "http://json-schema.org/draft-07/schema#" {
		t.Errorf("$schema = %v, want draft-07", s["$schema"])
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	if err := c.AddResource("values.schema.json", s); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compile("values.schema.json"); err != nil {
		t.Fatalf("values.schema.json is not a valid draft-07 schema: %v", err)
	}

	values, err := chartutil.ReadValuesFile(filepath.Join(chartDir(t), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := chartutil.ValidateAgainstSchema(loadChart(t), values.AsMap()); err != nil {
		t.Errorf("values.yaml does not pass values.schema.json: %v", err)
	}
}

// TestSchemaClosed checks additionalProperties: false on every object the
// schema describes property by property, so a misspelt value is refused
// instead of ignored.
func TestSchemaClosed(t *testing.T) {
	var walk func(path string, node map[string]any)
	walk = func(path string, node map[string]any) {
		props, hasProps := node["properties"].(map[string]any)
		if hasProps && node["additionalProperties"] != false {
			t.Errorf("%s: has properties but is not closed (additionalProperties: false)", path)
		}
		for name, p := range props {
			if child, ok := p.(map[string]any); ok {
				walk(path+"."+name, child)
			}
		}
		if items, ok := node["items"].(map[string]any); ok {
			walk(path+"[]", items)
		}
	}
	walk("$", schemaFile(t))
}

// TestValuesDocumented checks the helm-docs conventions of values.yaml: the
// first line points editors at the schema, every value is documented with a
// "# --" comment (on itself or on the object it belongs to), and values.yaml
// and the schema list the same settings.
func TestValuesDocumented(t *testing.T) {
	raw := readFile(t, "charts/jwt-authz/values.yaml")
	first, _, _ := bytes.Cut(raw, []byte("\n"))
	if string(first) != "# yaml-language-server: $schema=values.schema.json" {
		t.Errorf("first line = %q, want the yaml-language-server schema modeline", first)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	// A key is documented by its own "# --" comment or by one on the object
	// it belongs to (helm-docs then documents the object as a whole), except
	// under config, which mirrors the config file key by key.
	var paths []string
	var walk func(prefix string, n *yaml.Node, documented bool)
	walk = func(prefix string, n *yaml.Node, documented bool) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			path := strings.TrimPrefix(prefix+"."+key.Value, ".")
			paths = append(paths, path)
			own := strings.Contains(key.HeadComment, "# --")
			if !own && !documented && (val.Kind != yaml.MappingNode || len(val.Content) == 0) {
				t.Errorf("values.yaml: %s has no \"# --\" comment", path)
			}
			if val.Kind == yaml.MappingNode {
				walk(path, val, (documented || own) && path != "config")
			}
		}
	}
	walk("", doc.Content[0], false)

	// Every setting the schema names outside config appears in values.yaml.
	inValues := map[string]bool{}
	for _, p := range paths {
		inValues[p] = true
	}
	var schemaWalk func(prefix string, node map[string]any)
	schemaWalk = func(prefix string, node map[string]any) {
		props, _ := node["properties"].(map[string]any)
		for name, p := range props {
			path := strings.TrimPrefix(prefix+"."+name, ".")
			if path == "global" || path == "config" {
				continue
			}
			if !inValues[path] {
				t.Errorf("values.schema.json has %s, values.yaml does not", path)
				continue
			}
			if child, ok := p.(map[string]any); ok && child["additionalProperties"] == false {
				schemaWalk(path, child)
			}
		}
	}
	schemaWalk("", schemaFile(t))
}
