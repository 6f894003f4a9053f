package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// keyPaths lists the key paths of every field of struct type t, with list
// indexes written as "[]": "grpc_addr", "providers[].jwks_uri", ...
func keyPaths(t reflect.Type, prefix string) []string {
	var out []string
	names, index := yamlFields(t)
	for _, name := range names {
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		out = append(out, path)
		ft := t.Field(index[name]).Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]():
			out = append(out, keyPaths(ft, path)...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, keyPaths(ft.Elem(), path+"[]")...)
		}
	}
	return out
}

var indexRE = regexp.MustCompile(`\[[0-9]+\]`)

// normalizePath turns "providers[1].jwks_uri" into "providers[].jwks_uri".
func normalizePath(path string) string {
	return indexRE.ReplaceAllString(path, "[]")
}

// TestConfigurationMDComplete keeps CONFIGURATION.md in step with the
// Config types: every key path and every environment variable must be
// documented.
func TestConfigurationMDComplete(t *testing.T) {
	data, err := os.ReadFile("../CONFIGURATION.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, key := range keyPaths(reflect.TypeFor[Config](), "") {
		if !strings.Contains(doc, "`"+key+"`") {
			t.Errorf("CONFIGURATION.md does not document `%s`", key)
		}
	}
	for _, v := range EnvVars() {
		if !strings.Contains(doc, "`"+v+"`") {
			t.Errorf("CONFIGURATION.md does not document `%s`", v)
		}
	}
}

// TestConfigurationMDExamples parses every yaml block of CONFIGURATION.md.
func TestConfigurationMDExamples(t *testing.T) {
	data, err := os.ReadFile("../CONFIGURATION.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1)
	if len(blocks) == 0 {
		t.Fatal("CONFIGURATION.md has no yaml example")
	}
	for i, b := range blocks {
		if _, err := Parse([]byte(b[1])); err != nil {
			t.Errorf("example %d does not parse:\n%v", i, err)
		}
	}
}
