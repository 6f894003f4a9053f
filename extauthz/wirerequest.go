package extauthz

import (
	"errors"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the parts of envoy.service.auth.v3.CheckRequest that a
// decision reads; TestWireFieldNumbers checks them against the generated
// descriptors.
const (
	fieldCheckAttributes   = 1  // CheckRequest.attributes
	fieldAttributesRequest = 4  // AttributeContext.request
	fieldRequestHTTP       = 2  // AttributeContext.Request.http
	fieldHTTPMethod        = 2  // AttributeContext.HttpRequest.method
	fieldHTTPHeaders       = 3  // AttributeContext.HttpRequest.headers (map)
	fieldHTTPPath          = 4  // AttributeContext.HttpRequest.path
	fieldHTTPHost          = 5  // AttributeContext.HttpRequest.host
	fieldHTTPQuery         = 7  // AttributeContext.HttpRequest.query
	fieldHTTPHeaderMap     = 13 // AttributeContext.HttpRequest.header_map
	fieldHeaderMapHeaders  = 1  // config.core.v3.HeaderMap.headers
	fieldHeaderValueKey    = 1  // config.core.v3.HeaderValue.key
	fieldHeaderValueValue  = 2  // config.core.v3.HeaderValue.value
	fieldHeaderValueRaw    = 3  // config.core.v3.HeaderValue.raw_value
	fieldMapEntryKey       = 1
	fieldMapEntryValue     = 2
)

var errWire = errors.New("extauthz: malformed CheckRequest")

// decodeCheck reads a marshalled CheckRequest into r without building the
// message: only the HTTP attributes a decision needs are read, every other
// field is skipped. The strings of r point into b, which must not change
// while r is in use. Repeated occurrences of a field behave as protobuf
// merging does: the last scalar counts, map entries accumulate.
func decodeCheck(b []byte, r *request) error {
	return eachField(b, func(num protowire.Number, v []byte) error {
		if num != fieldCheckAttributes {
			return nil
		}
		return eachField(v, func(num protowire.Number, v []byte) error {
			if num != fieldAttributesRequest {
				return nil
			}
			return eachField(v, func(num protowire.Number, v []byte) error {
				if num != fieldRequestHTTP {
					return nil
				}
				return decodeHTTP(v, r)
			})
		})
	})
}

func decodeHTTP(b []byte, r *request) error {
	return eachField(b, func(num protowire.Number, v []byte) error {
		switch num {
		case fieldHTTPMethod:
			r.method = str(v)
		case fieldHTTPPath:
			r.path = str(v)
		case fieldHTTPHost:
			r.host = str(v)
		case fieldHTTPQuery:
			r.query = str(v)
		case fieldHTTPHeaders:
			f, err := decodeMapEntry(v)
			if err != nil {
				return err
			}
			r.headers = append(r.headers, f)
		case fieldHTTPHeaderMap:
			return eachField(v, func(num protowire.Number, v []byte) error {
				if num != fieldHeaderMapHeaders {
					return nil
				}
				var key, value string
				var raw []byte
				err := eachField(v, func(num protowire.Number, v []byte) error {
					switch num {
					case fieldHeaderValueKey:
						key = str(v)
					case fieldHeaderValueValue:
						value = str(v)
					case fieldHeaderValueRaw:
						raw = v
					}
					return nil
				})
				if err != nil {
					return err
				}
				if value == "" && len(raw) > 0 {
					value = str(raw)
				}
				r.headerMap = append(r.headerMap, field{name: key, value: value})
				return nil
			})
		}
		return nil
	})
}

// decodeMapEntry reads a map<string, string> entry. Encoders write the key
// then the value, each once, which is read directly; any other layout
// goes through the general field walk.
func decodeMapEntry(b []byte) (field, error) {
	if k, rest, ok := stringField(b, fieldMapEntryKey); ok {
		if v, rest, ok := stringField(rest, fieldMapEntryValue); ok && len(rest) == 0 {
			return field{name: str(k), value: str(v)}, nil
		}
	}
	var f field
	err := eachField(b, func(num protowire.Number, v []byte) error {
		switch num {
		case fieldMapEntryKey:
			f.name = str(v)
		case fieldMapEntryValue:
			f.value = str(v)
		}
		return nil
	})
	return f, err
}

// stringField reads a length-delimited field num with a one-byte tag at
// the start of b.
func stringField(b []byte, num protowire.Number) (v, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != byte(num)<<3|byte(protowire.BytesType) {
		return nil, b, false
	}
	v, n := protowire.ConsumeBytes(b[1:])
	if n < 0 {
		return nil, b, false
	}
	return v, b[1+n:], true
}

// eachField calls fn with every length-delimited field of a message and
// skips the fields of other wire types.
func eachField(b []byte, fn func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errWire
		}
		b = b[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return errWire
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return errWire
		}
		b = b[n:]
		if err := fn(num, v); err != nil {
			return err
		}
	}
	return nil
}

// str views b as a string without copying; b must outlive the string and
// never change.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// str2bytes views s as bytes without copying; the bytes must never be
// written.
func str2bytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
