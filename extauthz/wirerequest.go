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
	fieldAttributesSource  = 1  // AttributeContext.source
	fieldPeerCertificate   = 5  // AttributeContext.Peer.certificate
	fieldAttributesRequest = 4  // AttributeContext.request
	fieldRequestHTTP       = 2  // AttributeContext.Request.http
	fieldHTTPMethod        = 2  // AttributeContext.HttpRequest.method
	fieldHTTPHeaders       = 3  // AttributeContext.HttpRequest.headers (map)
	fieldHTTPPath          = 4  // AttributeContext.HttpRequest.path
	fieldHTTPHost          = 5  // AttributeContext.HttpRequest.host
	fieldHTTPScheme        = 6  // AttributeContext.HttpRequest.scheme
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
	return eachMessage(b, fieldCheckAttributes, func(attrs []byte) error {
		a := fields{b: attrs}
		for a.next() {
			var err error
			switch a.num {
			case fieldAttributesSource:
				err = decodePeer(a.v, r)
			case fieldAttributesRequest:
				err = eachMessage(a.v, fieldRequestHTTP, func(http []byte) error {
					return decodeHTTP(http, r)
				})
			}
			if err != nil {
				return err
			}
		}
		return a.err
	})
}

// decodePeer reads the downstream peer's certificate, the last one when
// repeated; an empty one leaves r without a certificate.
func decodePeer(b []byte, r *request) error {
	p := fields{b: b}
	for p.next() {
		if p.num == fieldPeerCertificate {
			r.cert, r.certFrom = "", certNone
			r.setPeerCert(str(p.v))
		}
	}
	return p.err
}

// eachMessage calls fn with every length-delimited field num of b.
func eachMessage(b []byte, num protowire.Number, fn func([]byte) error) error {
	f := fields{b: b}
	for f.next() {
		if f.num != num {
			continue
		}
		if err := fn(f.v); err != nil {
			return err
		}
	}
	return f.err
}

func decodeHTTP(b []byte, r *request) error {
	h := fields{b: b}
	for h.next() {
		switch h.num {
		case fieldHTTPMethod:
			r.method = str(h.v)
		case fieldHTTPPath:
			r.target = str(h.v)
		case fieldHTTPHost:
			r.host = str(h.v)
		case fieldHTTPQuery:
			r.query = str(h.v)
		case fieldHTTPScheme:
			r.scheme = str(h.v)
		case fieldHTTPHeaders:
			f, err := decodeMapEntry(h.v)
			if err != nil {
				return err
			}
			r.headers = append(r.headers, f)
		case fieldHTTPHeaderMap:
			if err := decodeHeaderMap(h.v, r); err != nil {
				return err
			}
		}
	}
	return h.err
}

func decodeHeaderMap(b []byte, r *request) error {
	m := fields{b: b}
	for m.next() {
		if m.num != fieldHeaderMapHeaders {
			continue
		}
		var key, value string
		var raw []byte
		kv := fields{b: m.v}
		for kv.next() {
			switch kv.num {
			case fieldHeaderValueKey:
				key = str(kv.v)
			case fieldHeaderValueValue:
				value = str(kv.v)
			case fieldHeaderValueRaw:
				raw = kv.v
			}
		}
		if kv.err != nil {
			return kv.err
		}
		if value == "" && len(raw) > 0 {
			value = str(raw)
		}
		r.headerMap = append(r.headerMap, field{name: key, value: value})
	}
	return m.err
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
	e := fields{b: b}
	for e.next() {
		switch e.num {
		case fieldMapEntryKey:
			f.name = str(e.v)
		case fieldMapEntryValue:
			f.value = str(e.v)
		}
	}
	return f, e.err
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

// fields steps through the length-delimited fields of a message, skipping
// fields of other wire types:
//
//	f := fields{b: msg}
//	for f.next() { use f.num, f.v }
//	if f.err != nil { ... }
type fields struct {
	b   []byte
	num protowire.Number
	v   []byte
	err error
}

func (f *fields) next() bool {
	for len(f.b) > 0 {
		num, typ, n := protowire.ConsumeTag(f.b)
		if n < 0 {
			f.err = errWire
			return false
		}
		f.b = f.b[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, f.b); n < 0 {
				f.err = errWire
				return false
			}
			f.b = f.b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(f.b)
		if n < 0 {
			f.err = errWire
			return false
		}
		f.b, f.num, f.v = f.b[n:], num, v
		return true
	}
	return false
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
