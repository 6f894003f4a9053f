package extauthz

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/jwt-authz/jwt-authz/internal/jsontape"
)

// Realm is the realm of every WWW-Authenticate challenge.
const Realm = "jwt-authz"

// RetryAfterSeconds is the Retry-After of a 503 answer.
const RetryAfterSeconds = 5

// header is one response or upstream header.
type header struct{ name, value string }

// anonymousResponse builds the allow of a request without a token. Every
// forwarded header is removed, so a client cannot smuggle its own
// x-jwt-sub past the filter.
func anonymousResponse(forwarded []string) *authv3.CheckResponse {
	ok := &authv3.OkHttpResponse{HeadersToRemove: forwarded}
	resp := &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(code.Code_OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok},
	}
	// Shared by every anonymous allow: marshal it once.
	rememberWire(resp)
	return resp
}

// headerValueOf renders a claim as a header value: strings as they are,
// numbers and booleans in JSON form, arrays comma-joined, objects as JSON
// (keys sorted). Control characters are dropped so a claim cannot split a
// header. null is no value.
func headerValueOf(v jsontape.Value) (string, bool) {
	var s string
	switch v.Kind() {
	case jsontape.Null:
		return "", false
	case jsontape.String:
		s, _ = v.String()
	case jsontape.Number, jsontape.True, jsontape.False:
		s = str(v.Raw())
	case jsontape.Array:
		var parts []string
		for it := v.Iter(); it.Next(); {
			e := it.Value()
			if es, ok := headerValueOf(e); ok {
				parts = append(parts, es)
			}
		}
		s = strings.Join(parts, ",")
	default:
		d := json.NewDecoder(bytes.NewReader(v.Raw()))
		d.UseNumber()
		var x any
		if err := d.Decode(&x); err != nil {
			return "", false
		}
		b, err := json.Marshal(x)
		if err != nil {
			return "", false
		}
		s = string(b)
	}
	return stripControl(s), true
}

func stripControl(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func sortHeaders(h []header) {
	for i := 1; i < len(h); i++ {
		for j := i; j > 0 && h[j].name < h[j-1].name; j-- {
			h[j], h[j-1] = h[j-1], h[j]
		}
	}
}

// denial is the transport-neutral form of a denial.
type denial struct {
	status  int
	headers []header
	body    string
}

// denialFor renders the HTTP answer of a reason. scopes are the rule's
// required scopes (only for 403 answers).
func denialFor(r Reason, scopes []string) denial {
	switch r.kind() {
	case kindInvalidRequest:
		// Not a matter of credentials: no challenge, which would make a
		// client retry with a token the same refused request.
		return denial{
			status:  400,
			headers: []header{{"content-type", "application/json"}, {"cache-control", "no-store"}},
			body:    jsonBody("invalid_request", r.String()),
		}
	case kindUnavailable:
		return denial{
			status: 503,
			headers: []header{
				{"retry-after", strconv.Itoa(RetryAfterSeconds)},
				{"content-type", "application/json"},
				{"cache-control", "no-store"},
			},
			body: jsonBody("temporarily_unavailable", r.String()),
		}
	case kindForbidden:
		challenge := `Bearer realm="` + Realm + `", error="insufficient_scope"`
		if len(scopes) > 0 {
			challenge += `, scope="` + strings.Join(scopes, " ") + `"`
		}
		return denial{
			status:  403,
			headers: []header{{"www-authenticate", challenge}, {"content-type", "application/json"}, {"cache-control", "no-store"}},
			body:    jsonBody("insufficient_scope", r.String()),
		}
	}
	challenge := `Bearer realm="` + Realm + `"`
	if r != ReasonMissing {
		// RFC 6750 §3.1: no error code when the request had no token at all.
		challenge += `, error="invalid_token", error_description="` + r.String() + `"`
	}
	return denial{
		status:  401,
		headers: []header{{"www-authenticate", challenge}, {"content-type", "application/json"}, {"cache-control", "no-store"}},
		body:    jsonBody("invalid_token", r.String()),
	}
}

func jsonBody(errCode, desc string) string {
	b, _ := json.Marshal(map[string]string{"error": errCode, "error_description": desc})
	return string(b)
}

// denyResponse builds the CheckResponse of a denial.
func denyResponse(r Reason, provider string, scopes []string) *authv3.CheckResponse {
	d := denialFor(r, scopes)
	grpcCode := code.Code_UNAUTHENTICATED
	switch r.kind() {
	case kindForbidden:
		grpcCode = code.Code_PERMISSION_DENIED
	case kindUnavailable:
		grpcCode = code.Code_UNAVAILABLE
	case kindInvalidRequest:
		grpcCode = code.Code_INVALID_ARGUMENT
	}
	resp := deniedCheckResponse(grpcCode, r, provider, d)
	rememberWire(resp)
	return resp
}

// deniedCheckResponse builds the CheckResponse that carries denial d for
// reason r with gRPC status c.
func deniedCheckResponse(c code.Code, r Reason, provider string, d denial) *authv3.CheckResponse {
	denied := &authv3.DeniedHttpResponse{
		Status: &typev3.HttpStatus{Code: typev3.StatusCode(d.status)},
		Body:   d.body,
	}
	for _, h := range d.headers {
		denied.Headers = append(denied.Headers, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: h.name, Value: h.value},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		})
	}
	return &authv3.CheckResponse{
		Status:          &rpcstatus.Status{Code: int32(c), Message: r.String()},
		HttpResponse:    &authv3.CheckResponse_DeniedResponse{DeniedResponse: denied},
		DynamicMetadata: metadata(map[string]string{"reason": r.String(), "provider": provider}),
	}
}

// metadata wraps string fields under the "jwt_authz" namespace.
func metadata(fields map[string]string) *structpb.Struct {
	inner := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(fields))}
	for k, v := range fields {
		inner.Fields[k] = structpb.NewStringValue(v)
	}
	return &structpb.Struct{Fields: map[string]*structpb.Value{metadataNamespace: structpb.NewStructValue(inner)}}
}
