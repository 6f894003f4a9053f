package chart

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The suites in charts/jwt-authz/unittests/ are written for the helm-unittest
// plugin (`helm unittest -f 'unittests/*.yaml' charts/jwt-authz`). This file
// runs them with the Go renderer too, for the subset of helm-unittest they
// use, so they stay valid and true without the plugin: an unknown assertion
// or key fails the test rather than being skipped.

type suite struct {
	Suite     string         `yaml:"suite"`
	Templates []string       `yaml:"templates"`
	Release   suiteRelease   `yaml:"release"`
	Set       map[string]any `yaml:"set"`
	Tests     []suiteTest    `yaml:"tests"`
}

type suiteRelease struct {
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
}

type suiteTest struct {
	It       string           `yaml:"it"`
	Template string           `yaml:"template"`
	Set      map[string]any   `yaml:"set"`
	Asserts  []map[string]any `yaml:"asserts"`
}

// TestUnittestSuites runs every helm-unittest suite.
func TestUnittestSuites(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(chartDir(t), "unittests", "*_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no suites in unittests/")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var s suite
		dec := yaml.NewDecoder(strings.NewReader(string(raw)))
		dec.KnownFields(true)
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) { runSuite(t, s) })
	}
}

func runSuite(t *testing.T, s suite) {
	if s.Suite == "" || len(s.Templates) == 0 || len(s.Tests) == 0 {
		t.Fatalf("suite needs suite, templates and tests: %+v", s)
	}
	for _, tpl := range s.Templates {
		if _, err := os.Stat(filepath.Join(chartDir(t), "templates", tpl)); err != nil {
			t.Errorf("suite names template %s: %v", tpl, err)
		}
	}
	for _, tc := range s.Tests {
		t.Run(tc.It, func(t *testing.T) {
			values := map[string]any{}
			for k, v := range s.Set {
				setPath(values, k, v)
			}
			for k, v := range tc.Set {
				setPath(values, k, v)
			}
			rendered, renderErr := renderWith(t, values, renderOpts{name: s.Release.Name, namespace: s.Release.Namespace})
			for i, a := range tc.Asserts {
				tpls := s.Templates
				if tc.Template != "" {
					tpls = []string{tc.Template}
				}
				if at, ok := a["template"].(string); ok {
					tpls = []string{at}
				}
				if err := runAssert(t, a, tpls, rendered, renderErr); err != nil {
					t.Errorf("assert %d: %v", i, err)
				}
			}
		})
	}
}

// setPath sets a helm-unittest "set" key such as config.revocation.store.
func setPath(values map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	m := values
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

// documents returns the parsed documents of the named templates.
func documents(t *testing.T, rendered map[string]string, tpls []string) ([]object, error) {
	var docs []object
	for _, tpl := range tpls {
		body, ok := rendered["jwt-authz/templates/"+tpl]
		if !ok {
			return nil, fmt.Errorf("template %s was not rendered", tpl)
		}
		objs, err := parseYAMLDocs([]byte(body))
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", tpl, err)
		}
		docs = append(docs, objs...)
	}
	return docs, nil
}

// runAssert evaluates one helm-unittest assertion.
func runAssert(t *testing.T, a map[string]any, tpls []string, rendered map[string]string, renderErr error) error {
	t.Helper()
	var kind string
	var args map[string]any
	for k, v := range a {
		if k == "template" || k == "not" {
			continue
		}
		if kind != "" {
			return fmt.Errorf("more than one assertion in %v", a)
		}
		kind = k
		args, _ = v.(map[string]any)
	}
	negate, _ := a["not"].(bool)

	if kind == "failedTemplate" {
		if renderErr == nil {
			return fmt.Errorf("failedTemplate: render succeeded")
		}
		if p, ok := args["errorPattern"].(string); ok && !regexp.MustCompile(p).MatchString(renderErr.Error()) {
			return fmt.Errorf("failedTemplate: error %q does not match %q", renderErr, p)
		}
		return nil
	}
	if renderErr != nil {
		return fmt.Errorf("%s: render failed: %w", kind, renderErr)
	}
	docs, err := documents(t, rendered, tpls)
	if err != nil {
		return err
	}
	if kind == "hasDocuments" {
		if want := args["count"]; want != len(docs) {
			return fmt.Errorf("hasDocuments: got %d, want %v", len(docs), want)
		}
		return nil
	}
	if len(docs) == 0 {
		return fmt.Errorf("%s: no documents rendered from %v", kind, tpls)
	}
	for _, doc := range docs {
		ok, err := check(kind, args, doc)
		if err != nil {
			return err
		}
		if ok == negate {
			return fmt.Errorf("%s (not: %v) failed on %s %s with %v", kind, negate, doc.kind(), doc.name(), args)
		}
	}
	return nil
}

// check evaluates one assertion on one document.
func check(kind string, args map[string]any, doc object) (bool, error) {
	path, _ := args["path"].(string)
	var got any
	var found bool
	if path != "" {
		var err error
		got, found, err = lookupPath(doc, path)
		if err != nil {
			return false, err
		}
	}
	switch kind {
	case "isKind":
		return doc.kind() == args["of"], nil
	case "equal":
		return reflect.DeepEqual(normalize(got), normalize(args["value"])), nil
	case "exists":
		return found, nil
	case "notExists":
		return !found, nil
	case "isNotNullOrEmpty":
		return found && !isEmpty(got), nil
	case "isNullOrEmpty":
		return !found || isEmpty(got), nil
	case "matchRegex":
		s, ok := got.(string)
		if !ok {
			return false, nil
		}
		re, err := regexp.Compile(str(args["pattern"]))
		if err != nil {
			return false, err
		}
		return re.MatchString(s), nil
	case "lengthEqual":
		l, ok := got.([]any)
		return ok && len(l) == args["count"], nil
	case "contains":
		l, ok := got.([]any)
		if !ok {
			return false, nil
		}
		anyMatch, _ := args["any"].(bool)
		want := normalize(args["content"])
		for _, item := range l {
			if anyMatch && isSubset(normalize(item), want) || reflect.DeepEqual(normalize(item), want) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("assertion %q is not supported by this runner", kind)
}

// lookupPath resolves a helm-unittest path: dotted keys, [n] indexes and
// ["key"] for keys with dots or slashes.
func lookupPath(doc object, path string) (any, bool, error) {
	var cur any = map[string]any(doc)
	rest := path
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, `["`):
			end := strings.Index(rest, `"]`)
			if end < 0 {
				return nil, false, fmt.Errorf("bad path %q", path)
			}
			m, ok := asMap(cur)
			if !ok {
				return nil, false, nil
			}
			v, ok := m[rest[2:end]]
			if !ok {
				return nil, false, nil
			}
			cur, rest = v, rest[end+2:]
		case strings.HasPrefix(rest, "["):
			end := strings.Index(rest, "]")
			n, err := strconv.Atoi(rest[1:max(end, 1)])
			if end < 0 || err != nil {
				return nil, false, fmt.Errorf("bad path %q", path)
			}
			l, ok := cur.([]any)
			if !ok || n >= len(l) {
				return nil, false, nil
			}
			cur, rest = l[n], rest[end+1:]
		default:
			rest = strings.TrimPrefix(rest, ".")
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			m, ok := asMap(cur)
			if !ok {
				return nil, false, nil
			}
			v, ok := m[rest[:end]]
			if !ok {
				return nil, false, nil
			}
			cur, rest = v, rest[end:]
		}
	}
	return cur, true, nil
}

// normalize makes numbers comparable whatever their Go type.
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case object:
		return normalize(map[string]any(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// isSubset reports whether every key of want is in got with an equal value.
func isSubset(got, want any) bool {
	g, ok1 := got.(map[string]any)
	w, ok2 := want.(map[string]any)
	if !ok1 || !ok2 {
		return reflect.DeepEqual(got, want)
	}
	for k, v := range w {
		if !reflect.DeepEqual(g[k], v) {
			return false
		}
	}
	return true
}

// TestUnittestRunner checks the runner itself, so a suite cannot pass
// because an assertion is evaluated wrongly.
func TestUnittestRunner(t *testing.T) {
	doc := object{
		"kind":     "Deployment",
		"metadata": map[string]any{"name": "x", "annotations": map[string]any{"checksum/config": "abc"}},
		"spec":     map[string]any{"ports": []any{map[string]any{"name": "grpc", "port": 9001}}},
	}
	tests := map[string]struct {
		kind string
		args map[string]any
		want bool
	}{
		"isKind":                {"isKind", map[string]any{"of": "Deployment"}, true},
		"isKind other":          {"isKind", map[string]any{"of": "Service"}, false},
		"equal bracket key":     {"equal", map[string]any{"path": `metadata.annotations["checksum/config"]`, "value": "abc"}, true},
		"equal index":           {"equal", map[string]any{"path": "spec.ports[0].port", "value": 9001}, true},
		"equal wrong":           {"equal", map[string]any{"path": "spec.ports[0].port", "value": 9002}, false},
		"exists":                {"exists", map[string]any{"path": "spec.ports"}, true},
		"exists missing":        {"exists", map[string]any{"path": "spec.volumes"}, false},
		"notExists":             {"notExists", map[string]any{"path": "spec.ports[3]"}, true},
		"matchRegex":            {"matchRegex", map[string]any{"path": "metadata.name", "pattern": "^x$"}, true},
		"matchRegex non-string": {"matchRegex", map[string]any{"path": "spec.ports", "pattern": "."}, false},
		"lengthEqual":           {"lengthEqual", map[string]any{"path": "spec.ports", "count": 1}, true},
		"contains":              {"contains", map[string]any{"path": "spec.ports", "content": map[string]any{"name": "grpc", "port": 9001}}, true},
		"contains partial":      {"contains", map[string]any{"path": "spec.ports", "content": map[string]any{"name": "grpc"}}, false},
		"contains any":          {"contains", map[string]any{"path": "spec.ports", "content": map[string]any{"name": "grpc"}, "any": true}, true},
		"isNotNullOrEmpty":      {"isNotNullOrEmpty", map[string]any{"path": "metadata.name"}, true},
		"isNullOrEmpty":         {"isNullOrEmpty", map[string]any{"path": "metadata.labels"}, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := check(tc.kind, tc.args, doc)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("%s = %v, want %v", tc.kind, got, tc.want)
			}
		})
	}
	if _, err := check("isAPIVersion", map[string]any{}, doc); err == nil {
		t.Error("an unsupported assertion passed")
	}
}
