package jsontape

import (
	"strconv"
	"strings"
	"unsafe"
)

// Value is a JSON value on a Tape. It is a small handle that is cheap to
// copy. The zero Value is absent: it does not exist and has kind Invalid.
type Value struct {
	t *Tape
	i uint32
}

func (v Value) node() *node {
	if v.t == nil {
		return nil
	}
	return &v.t.nodes[v.i]
}

// Kind returns the value's kind, or Invalid for an absent value.
func (v Value) Kind() Kind {
	if v.t == nil {
		return Invalid
	}
	return v.t.nodes[v.i].kind
}

// Exists reports whether the value is present. A JSON null exists.
func (v Value) Exists() bool { return v.t != nil }

// Raw returns the value's exact bytes in the document, or nil for an
// absent value. The slice aliases the document and must not be modified.
func (v Value) Raw() []byte {
	nd := v.node()
	if nd == nil {
		return nil
	}
	return v.t.doc[nd.start:nd.end:nd.end]
}

// Len returns the number of elements of an array or members of an object,
// and 0 for any other value.
func (v Value) Len() int {
	nd := v.node()
	if nd == nil {
		return 0
	}
	return int(nd.n)
}

// String returns the decoded value of a String, exactly as encoding/json
// decodes it; ok is false for other kinds. For a string without escapes
// that is valid UTF-8, the result shares memory with the document and
// nothing is allocated; otherwise the decoded string is allocated.
func (v Value) String() (s string, ok bool) {
	nd := v.node()
	if nd == nil || nd.kind != String {
		return "", false
	}
	body := v.t.doc[nd.start+1 : nd.end-1]
	if nd.plain {
		return bytesString(body), true
	}
	b := appendUnquoted(make([]byte, 0, len(body)+len(body)/2), body)
	return bytesString(b), true
}

// Float returns a Number as strconv.ParseFloat parses it with bitSize 64.
// ok is false for other kinds and for numbers out of the float64 range.
func (v Value) Float() (f float64, ok bool) {
	nd := v.node()
	if nd == nil || nd.kind != Number {
		return 0, false
	}
	return parseNumber(v.t.doc[nd.start:nd.end])
}

// parseNumber converts a valid JSON number as strconv.ParseFloat does,
// reporting false when it is out of the float64 range.
func parseNumber(raw []byte) (float64, bool) {
	if f, ok := smallInt(raw); ok {
		return f, true
	}
	f, err := strconv.ParseFloat(bytesString(raw), 64)
	return f, err == nil
}

// smallInt converts a JSON integer of at most 15 digits, which float64
// represents exactly, more quickly than strconv.ParseFloat.
func smallInt(raw []byte) (float64, bool) {
	digits := raw
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 15 {
		return 0, false
	}
	var u uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	f := float64(u)
	if len(digits) < len(raw) {
		f = -f
	}
	return f, true
}

// Field returns the member of an object with the given name. Names are
// compared after JSON unescaping; when a name occurs more than once, the
// last member wins, as when encoding/json decodes into a map. ok is false
// when v is not an object or has no such member.
func (v Value) Field(name string) (Value, bool) {
	nd := v.node()
	if nd == nil || nd.kind != Object {
		return Value{}, false
	}
	nodes, doc := v.t.nodes, v.t.doc
	found, hit := uint32(0), false
	j := v.i + 1
	for k := nd.n; k > 0; k-- {
		key := &nodes[j]
		if key.plain {
			if int(key.end-key.start-2) == len(name) && string(doc[key.start+1:key.end-1]) == name {
				found, hit = j+1, true
			}
		} else if unquotedEquals(doc[key.start+1:key.end-1], name) {
			found, hit = j+1, true
		}
		j = nodes[j+1].next
	}
	if !hit {
		return Value{}, false
	}
	return Value{t: v.t, i: found}, true
}

// Lookup walks a dotted path such as "realm_access.roles" through nested
// objects. A member whose whole name equals path is preferred; otherwise
// each dot-separated part names a member of the object reached so far.
// An empty path yields v itself (unless v has a member named "").
func (v Value) Lookup(path string) (Value, bool) {
	if v.t == nil {
		return Value{}, false
	}
	if f, ok := v.Field(path); ok {
		return f, true
	}
	cur := v
	for path != "" {
		if cur.Kind() != Object {
			return Value{}, false
		}
		var part string
		if i := strings.IndexByte(path, '.'); i >= 0 {
			part, path = path[:i], path[i+1:]
		} else {
			part, path = path, ""
		}
		var ok bool
		if cur, ok = cur.Field(part); !ok {
			return Value{}, false
		}
	}
	return cur, true
}

// Iter returns an iterator over the elements of an array or the members of
// an object. For other values the iterator is empty.
func (v Value) Iter() Iter {
	nd := v.node()
	if nd == nil || (nd.kind != Object && nd.kind != Array) {
		return Iter{}
	}
	return Iter{t: v.t, next: v.i + 1, left: nd.n, obj: nd.kind == Object}
}

// Iter steps through the elements of an array or the members of an object
// in document order, without allocating:
//
//	for it := v.Iter(); it.Next(); {
//		name, elem := it.Key(), it.Value()
//		...
//	}
type Iter struct {
	t        *Tape
	next     uint32 // node index of the next element, or of the next member's name
	left     uint32 // elements or members not yet visited
	key, val uint32
	obj      bool
}

// Next advances to the next element or member and reports whether there
// was one.
func (it *Iter) Next() bool {
	if it.left == 0 {
		return false
	}
	it.left--
	i := it.next
	if it.obj {
		it.key = i
		i++
	}
	it.val = i
	it.next = it.t.nodes[i].next
	return true
}

// Key returns the current member's name as a String value (use its String
// method for the decoded name). It is absent when iterating an array.
func (it *Iter) Key() Value {
	if !it.obj || it.t == nil {
		return Value{}
	}
	return Value{t: it.t, i: it.key}
}

// Value returns the current element or member value.
func (it *Iter) Value() Value {
	if it.t == nil {
		return Value{}
	}
	return Value{t: it.t, i: it.val}
}

// bytesString returns b as a string sharing b's memory.
func bytesString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
