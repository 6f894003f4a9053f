package config

import (
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxDecodeNodes bounds the work of decoding one document. Aliases let a
// small file refer to the same subtree many times over (the "billion laughs"
// shape); a real configuration has a few hundred values.
const maxDecodeNodes = 100_000

// decoder walks a yaml.Node tree against the Config types, guided by their
// yaml tags, and sets the fields it finds. Unlike yaml.Node.Decode it keeps
// going after a problem, so that one run reports every unknown key and every
// badly typed value with its key path and line.
type decoder struct {
	problems problems
	// lines maps the key path of every decoded value to the line of its key
	// (or, for a list element, of the element).
	lines map[string]int
	// bad holds the paths of values that could not be decoded. Their fields
	// keep the default, so validation problems at or below them are
	// follow-on noise and are dropped.
	bad map[string]bool
	// merging holds the mappings whose "<<" merge is being expanded, to stop
	// a mapping that merges itself.
	merging   map[*yaml.Node]bool
	nodes     int
	exhausted bool
}

func newDecoder() *decoder {
	return &decoder{lines: make(map[string]int), bad: make(map[string]bool), merging: make(map[*yaml.Node]bool)}
}

// fail records a value that could not be decoded.
func (d *decoder) fail(path string, n *yaml.Node, format string, args ...any) {
	d.problems.addLine(path, n.Line, format, args...)
	d.bad[path] = true
}

// step counts one visited node and reports whether the budget allows more.
func (d *decoder) step() bool {
	d.nodes++
	if d.nodes <= maxDecodeNodes {
		return true
	}
	if !d.exhausted {
		d.exhausted = true
		d.problems.add("", "document too complex: more than %d values after expanding aliases", maxDecodeNodes)
	}
	return false
}

// value decodes n into v and reports whether it succeeded. A null value
// leaves v unchanged: the key is treated as unset.
func (d *decoder) value(path string, n *yaml.Node, v reflect.Value) bool {
	if !d.step() {
		return false
	}
	n = deref(n)
	if n == nil || isNull(n) {
		return true
	}
	if !hasStandardTag(n) {
		d.fail(path, n, "unsupported YAML tag %s", quote(n.Tag))
		return false
	}
	t := v.Type()
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return d.duration(path, n, v)
	case t.Kind() == reflect.Pointer:
		elem := reflect.New(t.Elem())
		if !d.value(path, n, elem.Elem()) {
			return false
		}
		v.Set(elem)
		return true
	case t.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(path, n, "%s", expectation(t))
			return false
		}
		v.SetString(n.Value)
		return true
	case t.Kind() == reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.fail(path, n, "%s", expectation(t))
			return false
		}
		v.SetBool(b)
		return true
	case t.Kind() == reflect.Int:
		var i int
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			d.fail(path, n, "%s", expectation(t))
			return false
		}
		v.SetInt(int64(i))
		return true
	case t.Kind() == reflect.Float64:
		var f float64
		tag := n.ShortTag()
		if n.Kind != yaml.ScalarNode || tag != "!!int" && tag != "!!float" || n.Decode(&f) != nil {
			d.fail(path, n, "%s", expectation(t))
			return false
		}
		v.SetFloat(f)
		return true
	case t.Kind() == reflect.Slice:
		return d.list(path, n, v)
	case t.Kind() == reflect.Map:
		return d.stringMap(path, n, v)
	case t.Kind() == reflect.Struct:
		return d.structure(path, n, v)
	}
	// Unreachable for the Config types; kept so that a new field of an
	// unhandled type is reported rather than silently skipped.
	d.fail(path, n, "cannot decode into %s", t)
	return false
}

func (d *decoder) duration(path string, n *yaml.Node, v reflect.Value) bool {
	switch tag := n.ShortTag(); {
	case n.Kind != yaml.ScalarNode, tag != "!!str" && tag != "!!int" && tag != "!!float":
		d.fail(path, n, "%s", expectation(v.Type()))
		return false
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.fail(path, n, "%s", durationProblem(n.Value, err))
		return false
	}
	v.SetInt(int64(dur))
	return true
}

// durationProblem explains a time.ParseDuration error without repeating the
// value twice, as the error text itself does.
func durationProblem(s string, err error) string {
	msg := err.Error()
	var why string
	switch {
	case strings.Contains(msg, "missing unit"):
		why = "missing unit (for example 30s, 5m or 24h)"
	case strings.Contains(msg, "unknown unit"):
		why = "unknown unit (use ns, us, ms, s, m or h)"
	default:
		why = "not a duration (for example 30s, 5m or 24h)"
	}
	return "invalid duration " + quote(s) + ": " + why
}

func (d *decoder) list(path string, n *yaml.Node, v reflect.Value) bool {
	t := v.Type()
	if n.Kind != yaml.SequenceNode {
		d.fail(path, n, "%s", expectation(t))
		return false
	}
	ok := true
	s := reflect.MakeSlice(t, 0, len(n.Content))
	for i, en := range n.Content {
		ep := indexPath(path, i)
		en = deref(en)
		elem := newElem(t.Elem())
		switch {
		case en == nil || isNull(en):
			// A null element is a mistake, not an unset key. It is still
			// appended so that later elements keep their index in paths.
			line := n.Line
			if en != nil {
				line = en.Line
			}
			d.problems.addLine(ep, line, "%s, not null", expectation(t.Elem()))
			d.bad[ep] = true
			ok = false
		default:
			d.lines[ep] = en.Line
			ok = d.value(ep, en, elem) && ok
		}
		s = reflect.Append(s, elem)
	}
	v.Set(s)
	return ok
}

// newElem returns a new list element. Providers start from the defaults of
// the keys whose zero value is meaningful, so that a key left out gets its
// default while an explicit "clock_skew: 0s" is kept.
func newElem(t reflect.Type) reflect.Value {
	elem := reflect.New(t).Elem()
	if t == reflect.TypeFor[Provider]() {
		elem.Set(reflect.ValueOf(Provider{ClockSkew: DefaultClockSkew, JWKSMaxStale: DefaultJWKSMaxStale}))
	}
	return elem
}

func (d *decoder) stringMap(path string, n *yaml.Node, v reflect.Value) bool {
	t := v.Type()
	if n.Kind != yaml.MappingNode || t.Key().Kind() != reflect.String {
		d.fail(path, n, "%s", expectation(t))
		return false
	}
	ok := true
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	for _, kv := range d.pairs(path, n) {
		kp := childPath(path, kv.key.Value)
		d.lines[kp] = kv.key.Line
		val := deref(kv.value)
		elem := reflect.New(t.Elem()).Elem()
		if val == nil || isNull(val) {
			d.fail(kp, kv.key, "%s, not null", expectation(t.Elem()))
			ok = false
			continue
		}
		if !d.value(kp, val, elem) {
			ok = false
			continue
		}
		m.SetMapIndex(reflect.ValueOf(kv.key.Value).Convert(t.Key()), elem)
	}
	v.Set(m)
	return ok
}

func (d *decoder) structure(path string, n *yaml.Node, v reflect.Value) bool {
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		d.fail(path, n, "%s", expectation(t))
		return false
	}
	names, index := yamlFields(t)
	ok := true
	for _, kv := range d.pairs(path, n) {
		key := kv.key.Value
		kp := childPath(path, key)
		i, known := index[key]
		if !known {
			d.problems.addLine(kp, kv.key.Line, "unknown key%s", didYouMean(key, names))
			ok = false
			continue
		}
		d.lines[kp] = kv.key.Line
		ok = d.value(kp, kv.value, v.Field(i)) && ok
	}
	return ok
}

// yamlFields returns the yaml key names of struct type t in field order, and
// the field index of each.
func yamlFields(t reflect.Type) ([]string, map[string]int) {
	names := make([]string, 0, t.NumField())
	index := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		names = append(names, name)
		index[name] = i
	}
	return names, index
}

type pair struct {
	key, value *yaml.Node
}

// pairs returns the key/value pairs of mapping n: its own keys first, then
// the keys it merges with "<<" that it does not set itself. Duplicate keys
// and keys that are not strings are reported and skipped.
func (d *decoder) pairs(path string, n *yaml.Node) []pair {
	own := make([]pair, 0, len(n.Content)/2)
	var merged []pair
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !d.step() {
			return nil
		}
		k, val := deref(n.Content[i]), n.Content[i+1]
		switch {
		case k == nil || k.Kind != yaml.ScalarNode || isNull(k):
			line := n.Line
			if k != nil {
				line = k.Line
			}
			d.problems.addLine(path, line, "keys must be strings")
		case isMergeKey(k):
			merged = append(merged, d.merge(path, val)...)
		default:
			if first, dup := seen[k.Value]; dup {
				d.problems.addLine(childPath(path, k.Value), k.Line, "duplicate key (first set on line %d)", first)
				continue
			}
			seen[k.Value] = k.Line
			own = append(own, pair{key: k, value: val})
		}
	}
	for _, kv := range merged {
		if _, set := seen[kv.key.Value]; set {
			continue
		}
		seen[kv.key.Value] = kv.key.Line
		own = append(own, kv)
	}
	return own
}

// merge returns the pairs that a "<<" key with value n merges: those of a
// mapping, or of each mapping in a list (earlier mappings win).
func (d *decoder) merge(path string, n *yaml.Node) []pair {
	n = deref(n)
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.MappingNode:
		if d.merging[n] {
			d.problems.addLine(path, n.Line, "<< merges a mapping that contains it")
			return nil
		}
		d.merging[n] = true
		defer delete(d.merging, n)
		return d.pairs(path, n)
	case n.Kind == yaml.SequenceNode:
		var out []pair
		for _, e := range n.Content {
			if e = deref(e); e == nil || e.Kind != yaml.MappingNode {
				d.problems.addLine(path, n.Line, "<< must merge a mapping or a list of mappings")
				continue
			}
			out = append(out, d.merge(path, e)...)
		}
		return out
	}
	d.problems.addLine(path, n.Line, "<< must merge a mapping or a list of mappings")
	return nil
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	// An alias always names an anchored node, which is never an alias
	// itself; the bound only guards against a malformed tree.
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func isMergeKey(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "<<" && (n.Tag == "" || n.Tag == "!" || n.ShortTag() == "!!merge")
}

// hasStandardTag rejects custom tags such as "!env FOO" (no substitution
// happens, so accepting them would hide a mistake) and YAML types with no
// place in a configuration (binary, sets, ordered maps).
func hasStandardTag(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!int", "!!float", "!!bool", "!!null", "!!timestamp":
			return true
		}
	case yaml.MappingNode:
		return n.ShortTag() == "!!map"
	case yaml.SequenceNode:
		return n.ShortTag() == "!!seq"
	}
	return false
}

// expectation says what a value of type t must look like.
func expectation(t reflect.Type) string {
	if t == reflect.TypeFor[time.Duration]() {
		return "must be a duration such as 30s, 5m or 24h"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return expectation(t.Elem())
	case reflect.String:
		return "must be a string"
	case reflect.Bool:
		return "must be true or false"
	case reflect.Int:
		return "must be an integer"
	case reflect.Float64:
		return "must be a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return "must be a list of strings"
		}
		return "must be a list of mappings"
	case reflect.Map:
		return "must be a mapping of strings"
	}
	return "must be a mapping"
}
