package jsontape

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Tags of the google.protobuf.Struct, Value and ListValue fields, each a
// single byte: (field number << 3) | wire type.
const (
	tagStructFields = byte(1<<3 | protowire.BytesType)   // Struct.fields, one map entry
	tagEntryKey     = byte(1<<3 | protowire.BytesType)   // map entry key
	tagEntryValue   = byte(2<<3 | protowire.BytesType)   // map entry value
	tagNullValue    = byte(1<<3 | protowire.VarintType)  // Value.null_value
	tagNumberValue  = byte(2<<3 | protowire.Fixed64Type) // Value.number_value
	tagStringValue  = byte(3<<3 | protowire.BytesType)   // Value.string_value
	tagBoolValue    = byte(4<<3 | protowire.VarintType)  // Value.bool_value
	tagStructValue  = byte(5<<3 | protowire.BytesType)   // Value.struct_value
	tagListValue    = byte(6<<3 | protowire.BytesType)   // Value.list_value
	tagListValues   = byte(1<<3 | protowire.BytesType)   // ListValue.values
)

// AppendStruct appends the protobuf wire encoding of an object as a
// google.protobuf.Struct message body (without a length prefix) to dst and
// returns the extended buffer. If v is not an object, dst is returned
// unchanged.
//
// Numbers become number_value, or string_value holding the number's text
// when it is out of the float64 range; strings are decoded as by String.
// Members are written in document order, a repeated name as a repeated
// map entry, which protobuf parsers resolve to the last one, as
// encoding/json does. Apart from growing dst, AppendStruct allocates only
// for numbers out of the float64 range.
func (v Value) AppendStruct(dst []byte) []byte {
	if v.Kind() != Object {
		return dst
	}
	return v.t.appendStructBody(dst, v.i)
}

// AppendValue appends the protobuf wire encoding of v as a
// google.protobuf.Value message body (without a length prefix) to dst and
// returns the extended buffer, converting as AppendStruct does. An absent
// value appends nothing.
func (v Value) AppendValue(dst []byte) []byte {
	if v.t == nil {
		return dst
	}
	return v.t.appendValue(dst, v.i)
}

// appendValue appends the Value message body for node i.
func (t *Tape) appendValue(dst []byte, i uint32) []byte {
	nd := &t.nodes[i]
	switch nd.kind {
	case Null:
		return append(dst, tagNullValue, 0)
	case False:
		return append(dst, tagBoolValue, 0)
	case True:
		return append(dst, tagBoolValue, 1)
	case Number:
		raw := t.doc[nd.start:nd.end]
		if f, ok := parseNumber(raw); ok {
			return protowire.AppendFixed64(append(dst, tagNumberValue), math.Float64bits(f))
		}
		return protowire.AppendBytes(append(dst, tagStringValue), raw)
	case String:
		return t.appendString(append(dst, tagStringValue), nd)
	case Object:
		dst = append(dst, tagStructValue, 0)
		mark := len(dst) - 1
		dst = t.appendStructBody(dst, i)
		return closeLen(dst, mark)
	case Array:
		dst = append(dst, tagListValue, 0)
		mark := len(dst) - 1
		j := i + 1
		for k := nd.n; k > 0; k-- {
			dst = append(dst, tagListValues, 0)
			m := len(dst) - 1
			dst = t.appendValue(dst, j)
			dst = closeLen(dst, m)
			j = t.nodes[j].next
		}
		return closeLen(dst, mark)
	}
	return dst
}

// appendStructBody appends the Struct message body for the object node i.
func (t *Tape) appendStructBody(dst []byte, i uint32) []byte {
	j := i + 1
	for k := t.nodes[i].n; k > 0; k-- {
		dst = append(dst, tagStructFields, 0)
		entry := len(dst) - 1
		dst = t.appendString(append(dst, tagEntryKey), &t.nodes[j])
		dst = append(dst, tagEntryValue, 0)
		val := len(dst) - 1
		dst = t.appendValue(dst, j+1)
		dst = closeLen(dst, val)
		dst = closeLen(dst, entry)
		j = t.nodes[j+1].next
	}
	return dst
}

// appendString appends the length-prefixed decoded value of the String
// node nd.
func (t *Tape) appendString(dst []byte, nd *node) []byte {
	body := t.doc[nd.start+1 : nd.end-1]
	if nd.plain && len(body) < 0x80 {
		return append(append(dst, byte(len(body))), body...)
	}
	return appendStringBody(dst, body, nd.plain)
}

// appendStringBody appends the length-prefixed decoded value of a string
// body that is long or not plain.
func appendStringBody(dst, body []byte, plain bool) []byte {
	if plain {
		return protowire.AppendBytes(dst, body)
	}
	dst = append(dst, 0)
	mark := len(dst) - 1
	dst = appendUnquoted(dst, body)
	return closeLen(dst, mark)
}

// closeLen stores the length of the bytes written after the one-byte
// placeholder at dst[mark], widening the placeholder when the length needs
// a longer varint.
func closeLen(dst []byte, mark int) []byte {
	n := len(dst) - mark - 1
	if n >= 0x80 {
		return widenLen(dst, mark)
	}
	dst[mark] = byte(n)
	return dst
}

// zeros pads a length placeholder; a varint is at most 10 bytes.
var zeros [9]byte

// widenLen shifts the bytes after the placeholder at dst[mark] right to
// make room for their length's varint encoding, and writes it at mark.
func widenLen(dst []byte, mark int) []byte {
	n := len(dst) - mark - 1
	w := protowire.SizeVarint(uint64(n))
	dst = append(dst, zeros[:w-1]...)
	copy(dst[mark+w:], dst[mark+1:mark+1+n])
	protowire.AppendVarint(dst[:mark], uint64(n))
	return dst
}
