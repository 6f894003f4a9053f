package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxProblems bounds the problems one Load or Parse reports; a file that is
// wrong everywhere is better fixed from the top than listed in full.
const maxProblems = 100

// MaxConfigBytes is the largest configuration Load and Parse accept: the
// size limit of a Kubernetes ConfigMap.
const MaxConfigBytes = 1 << 20

// Load reads the YAML file at path, decodes it strictly, applies the
// JWT_AUTHZ_* environment overrides (see ApplyEnv), applies defaults and
// validates the result. An empty file gives the defaults.
//
// A configuration that cannot be used returns a nil *Config and every
// problem found, each a *FieldError, joined with errors.Join. A file that
// cannot be read returns the wrapped os error.
func Load(path string) (*Config, error) {
	return LoadEnv(path, os.LookupEnv)
}

// LoadEnv is Load with the environment overrides looked up with lookup
// instead of os.LookupEnv (a command's flags layered over the environment);
// a nil lookup applies none.
func LoadEnv(path string, lookup func(string) (string, bool)) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(data, lookup)
}

// Parse is Load for a configuration already in memory, without environment
// overrides.
func Parse(data []byte) (*Config, error) {
	return parse(data, nil)
}

func parse(data []byte, lookup func(string) (string, bool)) (*Config, error) {
	if len(data) > MaxConfigBytes {
		return nil, (problems{{Msg: fmt.Sprintf("config is larger than %d bytes", MaxConfigBytes)}}).err()
	}
	root, fe := parseYAML(data)
	if fe != nil {
		return nil, (problems{fe}).err()
	}
	c := &Config{}
	d := newDecoder()
	if root != nil {
		d.value("", root, reflect.ValueOf(c).Elem())
	}
	fromEnv, envProblems := c.applyEnv(lookup)
	c.ApplyDefaults()

	all := append(d.problems, envProblems...)
	for _, fe := range c.validate() {
		if isFollowOn(fe.Path, d.bad) {
			continue
		}
		if top := topKey(fe.Path); fromEnv[top] != "" {
			fe.Msg += " (set by " + fromEnv[top] + ")"
		} else {
			fe.Line = lineOf(fe.Path, d.lines)
		}
		all = append(all, fe)
	}
	if len(all) > 0 {
		all = dedupe(all)
		// Read top to bottom, like the file; problems without a line
		// (derived values, environment overrides) come last.
		slices.SortStableFunc(all, func(a, b *FieldError) int {
			return cmp.Compare(sortLine(a.Line), sortLine(b.Line))
		})
		if len(all) > maxProblems {
			more := len(all) - maxProblems
			all = append(all[:maxProblems], &FieldError{Msg: fmt.Sprintf("and %d more problems", more)})
		}
		return nil, all.err()
	}
	return c, nil
}

func sortLine(line int) int {
	if line == 0 {
		return math.MaxInt
	}
	return line
}

// parseYAML parses data as a single YAML document whose top level is a
// mapping. It returns nil for an empty document.
func parseYAML(data []byte) (root *yaml.Node, fe *FieldError) {
	// yaml.v3 reports malformed input as errors; this recover is defence in
	// depth so that no input, however hostile, can crash the process that
	// loads it (the reload path runs inside the live server).
	defer func() {
		if r := recover(); r != nil {
			root, fe = nil, &FieldError{Msg: "invalid YAML: the parser failed on this input"}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlProblem(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlProblem(err)
	case !emptyDocument(&extra):
		return nil, &FieldError{Msg: "more than one YAML document; put every key in one document", Line: extra.Line}
	}
	if emptyDocument(&doc) {
		return nil, nil
	}
	top := deref(doc.Content[0])
	if top == nil || top.Kind != yaml.MappingNode {
		return nil, &FieldError{Msg: "the top level must be a mapping of keys", Line: doc.Content[0].Line}
	}
	return top, nil
}

func emptyDocument(doc *yaml.Node) bool {
	return doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || isNull(doc.Content[0])
}

// yamlProblem turns a yaml.v3 syntax error ("yaml: line 3: did not find
// expected key") into a FieldError with the line split out.
func yamlProblem(err error) *FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, tail
			}
		}
	}
	return &FieldError{Msg: "invalid YAML: " + msg, Line: line}
}

// isFollowOn reports whether a validation problem at path lies at or below a
// value that failed to decode (and so kept its default).
func isFollowOn(path string, bad map[string]bool) bool {
	for path != "" {
		if bad[path] {
			return true
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return false
		}
		path = path[:i]
	}
	return false
}

// topKey returns the first segment of a key path: "providers" for
// "providers[1].jwks_uri", "grpc_addr" for "grpc_addr".
func topKey(path string) string {
	if i := strings.IndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return path
}

// lineOf returns the line of path, or of its closest ancestor that appears in
// the source, or 0.
func lineOf(path string, lines map[string]int) int {
	for path != "" {
		if line, ok := lines[path]; ok {
			return line
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

// dedupe drops repeated problems, which arise when one aliased value is
// reported from each place it is used.
func dedupe(p problems) problems {
	seen := make(map[string]bool, len(p))
	out := p[:0]
	for _, fe := range p {
		s := fe.Error()
		if seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, fe)
	}
	return out
}
