package extauthz

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/internal/urlpath"
	"github.com/jwt-authz/jwt-authz/token"
)

func TestWireFieldNumbers(t *testing.T) {
	num := func(m proto.Message, name string) protoreflect.FieldNumber {
		f := m.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(name))
		if f == nil {
			t.Fatalf("%T has no field %s", m, name)
		}
		return f.Number()
	}
	entry := func(m proto.Message, name, part string) protoreflect.FieldNumber {
		f := m.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(name))
		return f.Message().Fields().ByName(protoreflect.Name(part)).Number()
	}
	for _, c := range []struct {
		got  protoreflect.FieldNumber
		want int
	}{
		{num(&authv3.CheckRequest{}, "attributes"), fieldCheckAttributes},
		{num(&authv3.AttributeContext{}, "request"), fieldAttributesRequest},
		{num(&authv3.AttributeContext{}, "source"), fieldAttributesSource},
		{num(&authv3.AttributeContext_Peer{}, "certificate"), fieldPeerCertificate},
		{num(&authv3.AttributeContext_Request{}, "http"), fieldRequestHTTP},
		{num(&authv3.AttributeContext_HttpRequest{}, "method"), fieldHTTPMethod},
		{num(&authv3.AttributeContext_HttpRequest{}, "headers"), fieldHTTPHeaders},
		{num(&authv3.AttributeContext_HttpRequest{}, "path"), fieldHTTPPath},
		{num(&authv3.AttributeContext_HttpRequest{}, "host"), fieldHTTPHost},
		{num(&authv3.AttributeContext_HttpRequest{}, "query"), fieldHTTPQuery},
		{num(&authv3.AttributeContext_HttpRequest{}, "scheme"), fieldHTTPScheme},
		{num(&authv3.AttributeContext_HttpRequest{}, "header_map"), fieldHTTPHeaderMap},
		{entry(&authv3.AttributeContext_HttpRequest{}, "headers", "key"), fieldMapEntryKey},
		{entry(&authv3.AttributeContext_HttpRequest{}, "headers", "value"), fieldMapEntryValue},
		{num(&corev3.HeaderMap{}, "headers"), fieldHeaderMapHeaders},
		{num(&corev3.HeaderValue{}, "key"), fieldHeaderValueKey},
		{num(&corev3.HeaderValue{}, "value"), fieldHeaderValueValue},
		{num(&corev3.HeaderValue{}, "raw_value"), fieldHeaderValueRaw},
		{num(&authv3.CheckResponse{}, "status"), fieldResponseStatus},
		{num(&authv3.CheckResponse{}, "ok_response"), fieldResponseOK},
		{num(&authv3.CheckResponse{}, "dynamic_metadata"), fieldResponseMetadata},
		{num(&authv3.OkHttpResponse{}, "headers"), fieldOKHeaders},
		{num(&authv3.OkHttpResponse{}, "headers_to_remove"), fieldOKHeadersToRemove},
		{num(&corev3.HeaderValueOption{}, "header"), fieldOptionHeader},
		{num(&corev3.HeaderValueOption{}, "append_action"), fieldOptionAppendAction},
		{num(&structpb.Struct{}, "fields"), fieldStructFields},
		{entry(&structpb.Struct{}, "fields", "key"), fieldMapEntryKey},
		{entry(&structpb.Struct{}, "fields", "value"), fieldMapEntryValue},
		{num(&structpb.Value{}, "string_value"), fieldValueString},
		{num(&structpb.Value{}, "struct_value"), fieldValueStruct},
	} {
		if int(c.got) != c.want {
			t.Errorf("field number %d, constant says %d", c.got, c.want)
		}
	}
}

// wireRequests are CheckRequests of every shape decodeCheck must read as
// fromCheck reads the message.
func wireRequests() map[string]*authv3.CheckRequest {
	hm := func(kv ...string) *corev3.HeaderMap {
		m := &corev3.HeaderMap{}
		for i := 0; i < len(kv); i += 2 {
			m.Headers = append(m.Headers, &corev3.HeaderValue{Key: kv[i], Value: kv[i+1]})
		}
		return m
	}
	http := func(h *authv3.AttributeContext_HttpRequest) *authv3.CheckRequest {
		return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source:            &authv3.AttributeContext_Peer{Service: "client", Labels: map[string]string{"a": "b"}},
			Request:           &authv3.AttributeContext_Request{Http: h},
			ContextExtensions: map[string]string{"route": "orders"},
		}}
	}
	raw := hm("Authorization", "", "X-Request-Id", "r-9")
	raw.Headers[0].RawValue = []byte("Bearer raw")
	return map[string]*authv3.CheckRequest{
		"empty":   {},
		"no http": {Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{}}},
		"headers map": http(&authv3.AttributeContext_HttpRequest{
			Id: "1", Method: "POST", Path: "/api/orders?x=1&access_token=q", Host: "api.example.com", Scheme: "https", Protocol: "HTTP/2", Size: 42,
			Headers: map[string]string{":authority": "api.example.com", "authorization": "Bearer a.b.c", "x-request-id": "r-1", "cookie": "access_token=c"},
		}),
		"host from authority": http(&authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: "/a/../b//c", Query: "q=1",
			Headers: map[string]string{":authority": "h.example:8443", "origin": "https://o"},
		}),
		"header_map": http(&authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: "/", HeaderMap: hm("Authorization", "Bearer first", "authorization", "Bearer second", "X-Request-Id", "r-2"),
		}),
		"header_map raw value": http(&authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/p", HeaderMap: raw}),
		"both forms": http(&authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: "/", Headers: map[string]string{"authorization": "Bearer map"}, HeaderMap: hm("authorization", "Bearer header_map"),
		}),
		"peer certificate": {Attributes: &authv3.AttributeContext{
			Source:  &authv3.AttributeContext_Peer{Principal: "spiffe://a", Certificate: "-----BEGIN%20CERTIFICATE-----%0AMIIB%2B%3D%0A"},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/"}},
		}},
		"unicode and escapes": http(&authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: "/%2e%2e/ä?x", Headers: map[string]string{"x-name": "ümlaut", "authorization": strings.Repeat("x", 300)},
		}),
	}
}

func TestDecodeCheckMatchesMessage(t *testing.T) {
	names := []string{":authority", "authorization", "x-request-id", "cookie", "origin", "x-name", "missing"}
	for name, msg := range wireRequests() {
		t.Run(name, func(t *testing.T) {
			b, err := proto.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			var got request
			if err := decodeCheck(b, &got); err != nil {
				t.Fatal(err)
			}
			got.finish()
			want := fromCheck(msg)
			g := fmt.Sprint(got.method, "|", got.path, "|", got.query, "|", got.host, "|", got.id, "|", got.cert, "|", got.certFrom)
			w := fmt.Sprint(want.method, "|", want.path, "|", want.query, "|", want.host, "|", want.id, "|", want.cert, "|", want.certFrom)
			if g != w {
				t.Fatalf("decoded %s, message reads %s", g, w)
			}
			for _, n := range names {
				gv, gok := got.header(n)
				wv, wok := want.header(n)
				if gv != wv || gok != wok {
					t.Errorf("header %s: decoded %q %v, message %q %v", n, gv, gok, wv, wok)
				}
			}
		})
	}
}

func TestDecodeCheckMalformed(t *testing.T) {
	b, _ := proto.Marshal(wireRequests()["headers map"])
	for i := range len(b) {
		var r request
		_ = decodeCheck(b[:i], &r) // must not panic; truncation mostly errors
	}
	var r request
	if err := decodeCheck([]byte{0x0a, 0x05, 0x01}, &r); err == nil {
		t.Fatal("a length past the end was accepted")
	}
}

func TestDecodeCheckAllocationFree(t *testing.T) {
	if testkit.RaceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	b, _ := proto.Marshal(wireRequests()["headers map"])
	c := getCall()
	allocs := testing.AllocsPerRun(100, func() {
		c.r = request{headers: c.r.headers[:0], headerMap: c.r.headerMap[:0]}
		if err := decodeCheck(b, &c.r); err != nil {
			t.Fatal(err)
		}
		c.r.finish()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per decode", allocs)
	}
}

func TestCodecCheckCall(t *testing.T) {
	msg := wireRequests()["headers map"]
	b, _ := proto.Marshal(msg)
	half := len(b) / 2
	c := getCall()
	defer putCall(c)
	data := mem.BufferSlice{mem.SliceBuffer(bytes.Clone(b[:half])), mem.SliceBuffer(bytes.Clone(b[half:]))}
	if err := NewCodec().Unmarshal(data, c); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.r.header("authorization"); v != "Bearer a.b.c" || c.r.target != "/api/orders?x=1&access_token=q" {
		t.Fatalf("decoded %+v", c.r)
	}
	if !c.r.view(urlpath.Reject) || c.r.path != "/api/orders" || c.r.query != "x=1&access_token=q" {
		t.Fatalf("viewed %+v", c.r)
	}
	if err := NewCodec().Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0x0a, 0x7f})}, getCall()); err == nil {
		t.Fatal("malformed request accepted")
	}
}

// oracleAllow is the allowed response of a token as the protobuf messages
// spell it, built from the payload decoded by encoding/json.
func oracleAllow(t *testing.T, p *Provider, forwarded []string, tok string) *authv3.CheckResponse {
	t.Helper()
	seg := strings.Split(tok, ".")[1]
	raw, err := payloadEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var payload map[string]any
	if err := d.Decode(&payload); err != nil {
		t.Fatal(err)
	}
	set := map[string]string{}
	for claim, h := range p.ForwardClaims {
		if v, ok := token.Lookup(payload, claim); ok {
			if s, ok := oracleHeaderValue(v); ok {
				set[strings.ToLower(h)] = s
			}
		}
	}
	if p.ForwardPayloadHeader != "" {
		set[strings.ToLower(p.ForwardPayloadHeader)] = seg
	}
	ok := &authv3.OkHttpResponse{}
	for h, v := range set {
		ok.Headers = append(ok.Headers, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: h, Value: v},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		})
	}
	for _, h := range forwarded {
		if _, isSet := set[h]; !isSet {
			ok.HeadersToRemove = append(ok.HeadersToRemove, h)
		}
	}
	if !p.KeepAuthorization {
		ok.HeadersToRemove = append(ok.HeadersToRemove, "authorization")
	}
	claims, err := structpb.NewStruct(jsonNumbersToFloats(payload).(map[string]any))
	if err != nil {
		t.Fatal(err)
	}
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(code.Code_OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok},
		DynamicMetadata: &structpb.Struct{Fields: map[string]*structpb.Value{"jwt_authz": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			"provider": structpb.NewStringValue(p.Name()),
			"payload":  structpb.NewStructValue(claims),
		}})}},
	}
}

func jsonNumbersToFloats(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case []any:
		for i := range x {
			x[i] = jsonNumbersToFloats(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = jsonNumbersToFloats(x[k])
		}
	}
	return v
}

func TestAllowedWireMatchesMessages(t *testing.T) {
	payloads := map[string]func(map[string]any){
		"plain": nil,
		"every kind": func(c map[string]any) {
			c["n"], c["f"], c["neg"], c["t"], c["nul"] = 42, 1.5, -3, true, nil
			c["list"] = []any{"a", 1, false, nil, []any{"x"}, map[string]any{"k": "v"}}
			c["obj"] = map[string]any{"deep": map[string]any{"er": []any{1, 2}}}
			c["unicode"] = "ümlaut ✓ \u2028 \x01"
		},
		"large values": func(c map[string]any) {
			// Within the 8 KiB token limit, past two-byte lengths.
			c["long"] = strings.Repeat("y", 3000)
			c["many"] = strings.Split(strings.Repeat("s,", 200), ",")
		},
		"forwarded kinds": func(c map[string]any) {
			c["realm_access"] = map[string]any{"roles": []any{"a", map[string]any{"b": "<c>"}, nil, 7}}
		},
		"no forwarded claims": func(c map[string]any) { delete(c, "sub"); delete(c, "realm_access") },
	}
	for _, keep := range []bool{true, false} {
		for name, mut := range payloads {
			t.Run(fmt.Sprintf("%s keep_authorization=%v", name, keep), func(t *testing.T) {
				e := newEnv(t, nil)
				e.prov.KeepAuthorization = keep
				e.srv.SetPolicy(e.policy(nil))
				tok := e.token(mut)
				want := oracleAllow(t, e.prov, e.srv.Policy().forwarded, tok)
				// The second Check is a cache hit that makes the token hot;
				// the rest are answered from the hot tier.
				for i, label := range []string{"miss", "hit", "hot", "hot"} {
					got := e.check("GET", "/", bearerHdr(tok))
					sortOK(got)
					sortOK(want)
					if !proto.Equal(got, want) {
						t.Fatalf("%s (%d): built response differs from the messages' (%d vs %d bytes marshalled)", label, i, proto.Size(got), proto.Size(want))
					}
				}
			})
		}
	}
}

func sortOK(r *authv3.CheckResponse) {
	ok := r.GetOkResponse()
	if ok == nil {
		return
	}
	hs := ok.Headers
	for i := 1; i < len(hs); i++ {
		for j := i; j > 0 && hs[j].GetHeader().GetKey() < hs[j-1].GetHeader().GetKey(); j-- {
			hs[j], hs[j-1] = hs[j-1], hs[j]
		}
	}
}

// wireRun returns a function that serves a GET /orders Check bearing tok
// as gRPC's codec hands it over (see serveWire) and fails t unless it is
// allowed. It has run twice when returned: the token is cached and the
// pools are warm.
func (e *env) wireRun(t *testing.T, tok string) func() {
	t.Helper()
	b, _ := proto.Marshal(checkReq("GET", "/orders", bearerHdr(tok)))
	c := getCall()
	run := func() {
		if !serveWire(t, t.Context(), e.srv, c, b) {
			t.Fatal("not allowed")
		}
	}
	run()
	run()
	return run
}

// A cached token's answer is built without allocating: the response
// buffer comes from a pool that gRPC hands it back to. (Forwarding an
// array or object claim allocates its joined header value.)
func TestCachedWireAllocations(t *testing.T) {
	if testkit.RaceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	e := newEnv(t, nil)
	e.prov.ForwardClaims = map[string]string{"sub": "x-jwt-sub", "tenant": "x-tenant"}
	e.srv.SetPolicy(e.policy(nil))
	tok := e.token(nil)
	run := e.wireRun(t, tok)
	if e.srv.hot.len() != 1 {
		t.Fatal("the token did not become hot")
	}
	if allocs := testing.AllocsPerRun(200, run); allocs > 0 {
		t.Fatalf("%v allocations per hot Check", allocs)
	}

	// A cache hit that is not hot: another token holds the slot and was
	// used since, so the offer is declined.
	slot := &e.srv.hot.slots[e.srv.hot.hash(tok)%hotSlots]
	other := &hotToken{st: slot.Load().st, pol: slot.Load().pol}
	slot.Store(other)
	if allocs := testing.AllocsPerRun(200, func() { other.used.Store(true); run() }); allocs > 0 {
		t.Fatalf("%v allocations per cached Check", allocs)
	}
	if slot.Load() != other {
		t.Fatal("the offer displaced a token used since the last contender")
	}
}

// oracleHeaderValue renders a decoded claim as a header value.
func oracleHeaderValue(v any) (string, bool) {
	var s string
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		s = x
	case json.Number:
		s = x.String()
	case bool:
		s = strconv.FormatBool(x)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if es, ok := oracleHeaderValue(e); ok {
				parts = append(parts, es)
			}
		}
		s = strings.Join(parts, ",")
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return "", false
		}
		s = string(b)
	}
	return stripControl(s), true
}
