package extauthz

import (
	"sort"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the allowed CheckResponse this server writes;
// TestWireFieldNumbers checks them against the generated descriptors.
const (
	fieldResponseStatus     = 1 // CheckResponse.status
	fieldResponseOK         = 3 // CheckResponse.ok_response
	fieldResponseMetadata   = 4 // CheckResponse.dynamic_metadata
	fieldOKHeaders          = 2 // OkHttpResponse.headers
	fieldOKHeadersToRemove  = 5 // OkHttpResponse.headers_to_remove
	fieldOKResponseHeaders  = 6 // OkHttpResponse.response_headers_to_add
	fieldOptionHeader       = 1 // HeaderValueOption.header
	fieldOptionAppendAction = 3 // HeaderValueOption.append_action
	fieldStructFields       = 1 // google.protobuf.Struct.fields (map)
	fieldValueString        = 3 // google.protobuf.Value.string_value
	fieldValueStruct        = 5 // google.protobuf.Value.struct_value
)

const (
	metadataNamespace = "jwt_authz"
	payloadKey        = "payload"
	providerKey       = "provider"
	// statusOKLen is the size of google.rpc.Status{code: OK}: no field
	// differs from its default.
	statusOKLen            = 0
	overwriteIfExistsOrAdd = uint64(corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)
	bytesTag               = protowire.BytesType
)

// okTemplate is what every allowed response of one provider shares, built
// with the policy: an allowed token's response is its upstream headers,
// the headers to remove, and dynamic metadata
// {"jwt_authz": {"provider": name, "payload": {claims}}}, written as bytes
// straight from the token's payload.
type okTemplate struct {
	claims        []forwardClaim // forward_claims, by header name
	payloadHeader string         // lower-case; "" when not forwarded
	forwarded     []string       // every forwarded header of the policy, sorted
	removeAuth    bool
	// providerEntry is the "provider" entry of the jwt_authz Struct,
	// tagged, ready to append.
	providerEntry []byte
}

type forwardClaim struct{ path, header string }

func newOKTemplate(p *Provider, forwarded []string) *okTemplate {
	t := &okTemplate{
		payloadHeader: strings.ToLower(p.ForwardPayloadHeader),
		forwarded:     forwarded,
		removeAuth:    !p.KeepAuthorization,
	}
	for path, h := range p.ForwardClaims {
		t.claims = append(t.claims, forwardClaim{path: path, header: strings.ToLower(h)})
	}
	sort.Slice(t.claims, func(i, j int) bool {
		a, b := t.claims[i], t.claims[j]
		return a.header < b.header || a.header == b.header && a.path < b.path
	})
	var value []byte
	value = protowire.AppendTag(value, fieldValueString, bytesTag)
	value = protowire.AppendString(value, p.Name())
	t.providerEntry = append(appendEntryStart(nil, providerKey, len(value)), value...)
	return t
}

// upstream appends the headers an allowed request carries upstream, in
// name order: each forwarded claim the token has, and the payload
// segment as the payload header.
func (t *okTemplate) upstream(dst []header, cv *claimsView) []header {
	start := len(dst)
	for _, c := range t.claims {
		v, ok := cv.root.Lookup(c.path)
		if !ok {
			continue
		}
		if s, ok := headerValueOf(v); ok {
			dst = append(dst, header{c.header, s})
		}
	}
	if t.payloadHeader != "" {
		dst = append(dst, header{t.payloadHeader, cv.payload64})
	}
	sortHeaders(dst[start:])
	return dst
}

// appendOK appends the marshalled CheckResponse allowing a token: set are
// its upstream headers and payload its claims as a protobuf Struct.
func (t *okTemplate) appendOK(b []byte, set []header, payload []byte) []byte {
	// status: google.rpc.Status{code: OK}.
	b = protowire.AppendTag(b, fieldResponseStatus, bytesTag)
	b = protowire.AppendVarint(b, statusOKLen)

	// ok_response.
	b = protowire.AppendTag(b, fieldResponseOK, bytesTag)
	b = protowire.AppendVarint(b, uint64(t.okSize(set)))
	for _, h := range set {
		b = appendHeaderOption(b, fieldOKHeaders, h)
	}
	t.eachRemoved(set, func(name string) {
		b = protowire.AppendTag(b, fieldOKHeadersToRemove, bytesTag)
		b = protowire.AppendString(b, name)
	})

	// dynamic_metadata: {"jwt_authz": {"payload": {...}, "provider": name}}.
	payloadValue := sizeField(len(payload))
	payloadEntry := sizeField(len(payloadKey)) + sizeField(payloadValue)
	inner := sizeField(payloadEntry) + len(t.providerEntry)
	nsValue := sizeField(inner)
	nsEntry := sizeField(len(metadataNamespace)) + sizeField(nsValue)
	b = protowire.AppendTag(b, fieldResponseMetadata, bytesTag)
	b = protowire.AppendVarint(b, uint64(sizeField(nsEntry)))
	b = appendEntryStart(b, metadataNamespace, nsValue)
	b = protowire.AppendTag(b, fieldValueStruct, bytesTag)
	b = protowire.AppendVarint(b, uint64(inner))
	b = appendEntryStart(b, payloadKey, payloadValue)
	b = protowire.AppendTag(b, fieldValueStruct, bytesTag)
	b = protowire.AppendBytes(b, payload)
	return append(b, t.providerEntry...)
}

// appendHeaderOption appends h as a HeaderValueOption (overwrite if it
// exists, else add) in the repeated field of an OkHttpResponse.
func appendHeaderOption(b []byte, field protowire.Number, h header) []byte {
	hv := headerValueSize(h)
	b = protowire.AppendTag(b, field, bytesTag)
	b = protowire.AppendVarint(b, uint64(headerOptionSize(h)))
	b = protowire.AppendTag(b, fieldOptionHeader, bytesTag)
	b = protowire.AppendVarint(b, uint64(hv))
	b = protowire.AppendTag(b, fieldHeaderValueKey, bytesTag)
	b = protowire.AppendString(b, h.name)
	b = protowire.AppendTag(b, fieldHeaderValueValue, bytesTag)
	b = protowire.AppendString(b, h.value)
	b = protowire.AppendTag(b, fieldOptionAppendAction, protowire.VarintType)
	return protowire.AppendVarint(b, overwriteIfExistsOrAdd)
}

// headerOptionSize is the size of the HeaderValueOption of h.
func headerOptionSize(h header) int {
	return sizeField(headerValueSize(h)) + 1 + protowire.SizeVarint(overwriteIfExistsOrAdd)
}

// appendEntryStart appends the start of one entry of a Struct's fields:
// the entry's tag and size, its key, and the tag and size of its value,
// whose valueSize bytes the caller appends next.
func appendEntryStart(b []byte, key string, valueSize int) []byte {
	b = protowire.AppendTag(b, fieldStructFields, bytesTag)
	b = protowire.AppendVarint(b, uint64(sizeField(len(key))+sizeField(valueSize)))
	b = protowire.AppendTag(b, fieldMapEntryKey, bytesTag)
	b = protowire.AppendString(b, key)
	b = protowire.AppendTag(b, fieldMapEntryValue, bytesTag)
	return protowire.AppendVarint(b, uint64(valueSize))
}

// okSize is the size of the OkHttpResponse of appendOK.
func (t *okTemplate) okSize(set []header) int {
	n := 0
	for _, h := range set {
		n += sizeField(headerOptionSize(h))
	}
	t.eachRemoved(set, func(name string) { n += sizeField(len(name)) })
	return n
}

// eachRemoved calls fn with every header to remove from an allowed
// request: each forwarded header the token does not set, so that a client
// cannot smuggle its own x-jwt-sub past the filter, and the Authorization
// header unless the provider keeps it.
func (t *okTemplate) eachRemoved(set []header, fn func(string)) {
	for _, name := range t.forwarded {
		if !headerSet(set, name) {
			fn(name)
		}
	}
	if t.removeAuth {
		fn("authorization")
	}
}

func headerSet(set []header, name string) bool {
	for _, h := range set {
		if h.name == name {
			return true
		}
	}
	return false
}

// headerValueSize is the size of a config.core.v3.HeaderValue.
func headerValueSize(h header) int { return sizeField(len(h.name)) + sizeField(len(h.value)) }

// sizeField is the size of a length-delimited field of n bytes with a
// one-byte tag.
func sizeField(n int) int { return 1 + protowire.SizeBytes(n) }
