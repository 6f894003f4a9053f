package jsontape

import (
	"encoding/binary"
	"math"
	"math/bits"
	"unicode/utf8"
)

// Parse indexes doc, which must hold exactly one JSON value (RFC 8259),
// optionally surrounded by whitespace. It returns a *SyntaxError for
// invalid JSON and ErrTooDeep for nesting deeper than MaxDepth; on error
// the tape is left empty. Parse does not allocate once the tape's slices
// have enough capacity, and it keeps a reference to doc.
func (t *Tape) Parse(doc []byte) error {
	nodes, stack, err := parse(doc, t.nodes[:0], t.stack[:0])
	t.stack = stack[:0]
	if err != nil {
		t.doc, t.nodes = nil, nodes[:0]
		return err
	}
	t.doc, t.nodes = doc, nodes
	return nil
}

// parse appends the nodes of doc to nodes, using stack to hold the indices
// of the containers that are open.
func parse(doc []byte, nodes []node, stack []uint32) ([]node, []uint32, error) {
	if uint64(len(doc)) > math.MaxUint32 {
		return nodes, stack, errTooLarge
	}
	n := len(doc)
	i := skipSpace(doc, 0)
value:
	for {
		// A value starts at i.
		if i >= n {
			return nodes, stack, syntaxError(i, "unexpected end of input")
		}
		switch c := doc[i]; c {
		case '{', '[':
			if len(stack) >= MaxDepth {
				return nodes, stack, ErrTooDeep
			}
			kind, closer := Array, byte(']')
			if c == '{' {
				kind, closer = Object, '}'
			}
			stack = append(stack, uint32(len(nodes)))
			nodes = push(nodes, kind, i, 0, false)
			i = skipSpace(doc, i+1)
			if i < n && doc[i] == closer {
				i++
				top := &nodes[len(nodes)-1]
				top.end, top.next = uint32(i), uint32(len(nodes))
				stack = stack[:len(stack)-1]
				break // the empty container is a complete value
			}
			if kind == Object {
				var err error
				if nodes, i, err = member(doc, nodes, i); err != nil {
					return nodes, stack, err
				}
			}
			continue value
		case '"':
			end, plain, ok := scanString(doc, i)
			if !ok {
				return nodes, stack, syntaxError(end, "invalid string")
			}
			nodes = push(nodes, String, i, end, plain)
			i = end
		case 't', 'f', 'n':
			kind, lit := True, "true"
			if c == 'f' {
				kind, lit = False, "false"
			} else if c == 'n' {
				kind, lit = Null, "null"
			}
			if n-i < len(lit) || string(doc[i:i+len(lit)]) != lit {
				return nodes, stack, syntaxError(i, "invalid literal")
			}
			nodes = push(nodes, kind, i, i+len(lit), false)
			i += len(lit)
		default:
			end := scanNumber(doc, i)
			if end < 0 {
				return nodes, stack, syntaxError(i, "invalid character looking for a value")
			}
			nodes = push(nodes, Number, i, end, false)
			i = end
		}

		// A value ended just before i: count it in its container, then
		// close every container that ends here.
		for {
			i = skipSpace(doc, i)
			if len(stack) == 0 {
				if i != n {
					return nodes, stack, syntaxError(i, "invalid character after top-level value")
				}
				return nodes, stack, nil
			}
			top := &nodes[stack[len(stack)-1]]
			top.n++
			if i >= n {
				return nodes, stack, syntaxError(i, "unexpected end of input")
			}
			switch c := doc[i]; {
			case c == ',':
				i = skipSpace(doc, i+1)
				if top.kind == Object {
					var err error
					if nodes, i, err = member(doc, nodes, i); err != nil {
						return nodes, stack, err
					}
				}
				continue value
			case c == '}' && top.kind == Object, c == ']' && top.kind == Array:
				i++
				top.end, top.next = uint32(i), uint32(len(nodes))
				stack = stack[:len(stack)-1]
			default:
				return nodes, stack, syntaxError(i, "invalid character after value")
			}
		}
	}
}

// push appends a node spanning doc[start:end]. Its next index assumes a
// scalar; a container's end and next are set when it closes.
func push(nodes []node, kind Kind, start, end int, plain bool) []node {
	// Filling in the fields of the new element in place, rather than
	// appending a composite literal, avoids a store-forwarding stall.
	nodes = append(nodes, node{})
	nd := &nodes[len(nodes)-1]
	nd.start, nd.end, nd.next = uint32(start), uint32(end), uint32(len(nodes))
	nd.kind, nd.plain = kind, plain
	return nodes
}

// member appends the name node of an object member starting at i and
// consumes the colon after it, returning the offset of the member's value.
func member(doc []byte, nodes []node, i int) ([]node, int, error) {
	if i >= len(doc) || doc[i] != '"' {
		return nodes, i, syntaxError(i, "expected object member name")
	}
	end, plain, ok := scanString(doc, i)
	if !ok {
		return nodes, end, syntaxError(end, "invalid string")
	}
	nodes = push(nodes, String, i, end, plain)
	i = skipSpace(doc, end)
	if i >= len(doc) || doc[i] != ':' {
		return nodes, i, syntaxError(i, "expected colon after object member name")
	}
	return nodes, skipSpace(doc, i+1), nil
}

// skipSpace returns the offset of the first non-whitespace byte at or
// after i.
func skipSpace(doc []byte, i int) int {
	for i < len(doc) && doc[i] <= ' ' && isSpace[doc[i]] {
		i++
	}
	return i
}

var isSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

// strPlain marks the bytes that may appear in a string without further
// checks: everything except control characters, '"' and '\\'.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString validates the string whose opening quote is at i. It returns
// the offset just past the closing quote and whether the string is plain:
// free of escapes and valid UTF-8. On failure it returns the offset of the
// problem and ok false.
func scanString(doc []byte, i int) (end int, plain, ok bool) {
	start := i + 1
	i = start
	var hi uint64 // OR of the bytes scanned, to spot non-ASCII text
	escaped := false
	for {
		// Skip to the next quote, backslash or control character, eight
		// bytes at a time while possible.
		for {
			if len(doc)-i < 8 {
				for i < len(doc) && strPlain[doc[i]] {
					hi |= uint64(doc[i])
					i++
				}
				break
			}
			x := binary.LittleEndian.Uint64(doc[i:])
			if m := specialBytes(x); m != 0 {
				k := bits.TrailingZeros64(m) >> 3
				hi |= x & (1<<(8*k) - 1)
				i += k
				break
			}
			hi |= x
			i += 8
		}
		if i >= len(doc) {
			return i, false, false
		}
		switch doc[i] {
		case '"':
			plain = !escaped && (hi&0x80808080_80808080 == 0 || utf8.Valid(doc[start:i]))
			return i + 1, plain, true
		case '\\':
			escaped = true
			if i+1 >= len(doc) {
				return i, false, false
			}
			switch doc[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(doc)-i < 6 || !isHex[doc[i+2]] || !isHex[doc[i+3]] || !isHex[doc[i+4]] || !isHex[doc[i+5]] {
					return i, false, false
				}
				i += 6
			default:
				return i, false, false
			}
		default: // control character
			return i, false, false
		}
	}
}

// specialBytes returns a mask with the high bit set in each byte of the
// little-endian word x that is '"', '\' or a control character. Borrows
// may also flag bytes above a flagged one, so only the lowest flag is
// exact; that is the one scanString uses.
func specialBytes(x uint64) uint64 {
	const (
		ones  = 0x01010101_01010101
		highs = 0x80808080_80808080
	)
	q := x ^ ones*'"'
	b := x ^ ones*'\\'
	return ((q-ones)&^q | (b-ones)&^b | (x-ones*0x20)&^x) & highs
}

var isHex = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return t
}()

// scanNumber returns the offset just past the number starting at i, or -1
// if no valid number starts there.
func scanNumber(doc []byte, i int) int {
	n := len(doc)
	if i < n && doc[i] == '-' {
		i++
	}
	switch {
	case i < n && doc[i] == '0':
		i++
	case i < n && '1' <= doc[i] && doc[i] <= '9':
		i = skipDigits(doc, i+1)
	default:
		return -1
	}
	if i < n && doc[i] == '.' {
		j := skipDigits(doc, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < n && (doc[i] == 'e' || doc[i] == 'E') {
		i++
		if i < n && (doc[i] == '+' || doc[i] == '-') {
			i++
		}
		j := skipDigits(doc, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func skipDigits(doc []byte, i int) int {
	for i < len(doc) && '0' <= doc[i] && doc[i] <= '9' {
		i++
	}
	return i
}

func syntaxError(offset int, msg string) error {
	return &SyntaxError{Offset: offset, msg: msg}
}
