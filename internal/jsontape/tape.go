// Package jsontape indexes a JSON document into a flat, reusable tape of
// nodes, so that values can be looked up and the document rendered as a
// protobuf google.protobuf.Struct without allocating.
//
// Parse fills a Tape in a single pass. A Value is a small handle (a tape
// pointer and a node index) that reads from the tape and from the original
// document bytes. The tape does not copy the document: the caller must keep
// it alive and unmodified for as long as the tape, or any Value or string
// obtained from it, is in use. Parsing another document into the same Tape
// invalidates every Value taken from it before.
package jsontape

import (
	"errors"
	"strconv"
)

// MaxDepth is the deepest nesting of objects and arrays that Parse accepts.
// A document whose containers nest more than MaxDepth levels deep is
// rejected with ErrTooDeep.
const MaxDepth = 1000

// ErrTooDeep is returned by Parse for documents nested deeper than MaxDepth.
var ErrTooDeep = errors.New("jsontape: nesting exceeds MaxDepth")

// errTooLarge is returned by Parse for documents whose offsets do not fit
// the tape's 32-bit node fields.
var errTooLarge = errors.New("jsontape: document larger than 4 GiB")

// Kind is the type of a JSON value.
type Kind uint8

// The kinds of JSON values. Invalid is the kind of an absent Value.
const (
	Invalid Kind = iota
	Null
	False
	True
	Number
	String
	Object
	Array
)

var kindNames = [...]string{
	Invalid: "invalid",
	Null:    "null",
	False:   "false",
	True:    "true",
	Number:  "number",
	String:  "string",
	Object:  "object",
	Array:   "array",
}

// String returns the kind's name, such as "object".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Tape is a parsed JSON document. The zero Tape is empty and ready for
// Parse; reusing one Tape for many documents avoids allocation once its
// internal slices have grown. A Tape is not safe for concurrent use while
// Parse runs; after Parse returns, its Values may be read concurrently.
type Tape struct {
	doc   []byte
	nodes []node
	stack []uint32
}

// node is one JSON value on the tape. Nodes are stored in document order:
// a container is followed by its subtree, and an object's subtree holds,
// for each member, a String node for the name followed by the value's
// subtree.
type node struct {
	start uint32 // offset of the value's first byte in doc
	end   uint32 // offset just past the value's last byte
	next  uint32 // index of the first node after this value's subtree
	n     uint32 // Object and Array: number of members or elements
	kind  Kind
	plain bool // String: no escapes and valid UTF-8, so the bytes between the quotes are the value
}

// Root returns the document's top-level value, or an absent Value when the
// tape holds no successfully parsed document.
func (t *Tape) Root() Value {
	if len(t.nodes) == 0 {
		return Value{}
	}
	return Value{t: t, i: 0}
}

// SyntaxError reports invalid JSON passed to Parse.
type SyntaxError struct {
	Offset int // byte offset in the document where the error was detected
	msg    string
}

// Error describes the problem and where it was found.
func (e *SyntaxError) Error() string {
	return "jsontape: " + e.msg + " at offset " + strconv.Itoa(e.Offset)
}
