package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// viewRules are the rules of the walk-arounds the request view closes:
// /public anonymous, DELETE on /api needing scope admin above an
// anonymous /api, and one anonymous host.
const viewRules = `
rules:
  - match: { path_prefix: /public }
    allow_anonymous: true
  - match: { path_prefix: /api, methods: [DELETE] }
    require_scopes: [admin]
  - match: { path_prefix: /api }
    allow_anonymous: true
  - match: { host: anon.example.com }
    allow_anonymous: true
`

// serverRefused stands for net/http's own 400 to a malformed request line.
const serverRefused = "(refused by net/http)"

// viewAnswer is a decision as any transport shows it.
type viewAnswer struct {
	status int    // HTTP status (the denied response's, or 200)
	reason string // the denial's error_description, "" when allowed
	sub    string // the forwarded x-jwt-sub
}

// viewTransport sends one request (the original method, path and host,
// plus headers the client added) through one way into jwt-authz.
type viewTransport struct {
	name string
	send func(t *testing.T, in *instance, method, path, host string, client map[string]string) viewAnswer
	// family is the header family this transport's proxy sets itself,
	// replacing whatever the client sent ("" for none).
	family string
}

var viewTransports = []viewTransport{
	{name: "grpc", send: sendGRPC},
	{name: "authz", send: sendHTTPService},
	{name: "x-original", send: sendFamily("/forward/x-original", "X-Original-Method", "X-Original-URI", "X-Original-Host"), family: "X-Original-"},
	{name: "x-forwarded", send: sendFamily("/forward/x-forwarded", "X-Forwarded-Method", "X-Forwarded-Uri", "X-Forwarded-Host"), family: "X-Forwarded-"},
}

// TestRequestViewAcrossTransports is the one table of walk-arounds,
// through the gRPC Check and each forward-auth endpoint alike, so that
// the transports cannot drift apart.
func TestRequestViewAcrossTransports(t *testing.T) {
	k := testkit.NewKey(t, "ES256", "k1")
	js := newJWKSServer(t, k)
	in := start(t, corpConfig(js.URL, viewRules), "")
	eventually(t, "ready", in.grpcServing)
	tok := testkit.Sign(t, k, testkit.Claims(corpIss, "alice", "orders-api"), nil)
	auth := map[string]string{"Authorization": "Bearer " + tok}

	ambiguous := viewAnswer{400, "ambiguous_path", ""}
	missing := viewAnswer{401, "missing", ""}
	anonymous := viewAnswer{200, "", ""}
	allowed := viewAnswer{200, "", "alice"}
	tests := []struct {
		name               string
		method, path, host string
		client             map[string]string // headers the client adds
		want               viewAnswer
		except             map[string]viewAnswer // by transport
	}{
		{"encoded slash after dot-dot", "GET", "/admin/..%2Fpublic", "api.example.com", nil, ambiguous, nil},
		{"encoded slashes around dot-dot", "GET", "/admin%2F..%2Fpublic", "api.example.com", nil, ambiguous, nil},
		{"backslashes", "GET", `/admin\..\public`, "api.example.com", nil, ambiguous, nil},
		{"dot-dot", "GET", "/public/../admin", "api.example.com", nil, ambiguous, nil},
		{"encoded dots", "GET", "/public/%2e%2e/admin", "api.example.com", nil, ambiguous, nil},
		{"NUL", "GET", "/public/%00", "api.example.com", nil, ambiguous, nil},
		// net/http refuses a request line whose path does not unescape,
		// before any handler: still a 400, with its own plain body.
		{"malformed escape", "GET", "/public/%zz", "api.example.com", nil, ambiguous, map[string]viewAnswer{"authz": {400, serverRefused, ""}}},
		{"segment prefix", "GET", "/publicity", "api.example.com", nil, missing, nil},
		{"public", "GET", "/public/x?y=1", "api.example.com", nil, anonymous, nil},
		{"normalized into public", "GET", "//p%75blic//x", "api.example.com", nil, anonymous, nil},
		{"double encoding stays one segment", "GET", "/public/%252E%252E/admin", "api.example.com", nil, anonymous, nil},
		{"lower-case delete", "delete", "/api/x", "api.example.com", nil, missing, nil},
		{"lower-case delete with token", "delete", "/api/x", "api.example.com", auth, viewAnswer{403, "insufficient_scope", ""}, nil},
		{"get on api", "get", "/api/x", "api.example.com", nil, anonymous, nil},
		{"anonymous host, any case, trailing dot, port", "GET", "/admin", "ANON.example.com.:8443", nil, anonymous, nil},
		{"client X-Forwarded-Host", "GET", "/admin", "api.example.com", map[string]string{"X-Forwarded-Host": "anon.example.com"}, missing, nil},
		{"client X-Original-Host", "GET", "/admin", "api.example.com", map[string]string{"X-Original-Host": "anon.example.com"}, missing, nil},
		{"client X-Original-URI", "GET", "/admin", "api.example.com", map[string]string{"X-Original-URI": "/public", "X-Original-Method": "GET"}, missing,
			map[string]viewAnswer{"authz": {400, "/authz/... reads the request from its own URL, not from X-Original-URI; a proxy that sends X-Original-URI uses /forward/x-original", ""}}},
		{"client X-Forwarded-Uri", "GET", "/admin", "api.example.com", map[string]string{"X-Forwarded-Uri": "/public"}, missing,
			map[string]viewAnswer{"authz": {400, "/authz/... reads the request from its own URL, not from X-Forwarded-Uri; a proxy that sends X-Forwarded-Uri uses /forward/x-forwarded", ""}}},
		{"token", "GET", "/admin", "api.example.com", auth, allowed, nil},
		{"client x-jwt-sub on anonymous", "GET", "/public", "api.example.com", map[string]string{"X-Jwt-Sub": "mallory"}, anonymous, nil},
	}
	for _, tc := range tests {
		for _, tr := range viewTransports {
			t.Run(tc.name+"/"+tr.name, func(t *testing.T) {
				client := map[string]string{}
				for k, v := range tc.client {
					if tr.family == "" || !strings.HasPrefix(k, tr.family) {
						client[k] = v
					}
				}
				want := tc.want
				if w, ok := tc.except[tr.name]; ok {
					want = w
				}
				if got := tr.send(t, in, tc.method, tc.path, tc.host, client); got != want {
					t.Fatalf("%s %s host %s: got %+v, want %+v", tc.method, tc.path, tc.host, got, want)
				}
			})
		}
	}
}

func sendGRPC(t *testing.T, in *instance, method, path, host string, client map[string]string) viewAnswer {
	t.Helper()
	headers := map[string]string{}
	for k, v := range client {
		headers[strings.ToLower(k)] = v
	}
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: method, Path: path, Host: host, Headers: headers},
	}}}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := authv3.NewAuthorizationClient(in.conn).Check(ctx, req)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if resp.GetStatus().GetCode() == int32(code.Code_OK) {
		a := viewAnswer{status: 200}
		for _, h := range resp.GetOkResponse().GetHeaders() {
			if h.GetHeader().GetKey() == "x-jwt-sub" {
				a.sub = h.GetHeader().GetValue()
			}
		}
		return a
	}
	d := resp.GetDeniedResponse()
	wantCode := map[int32]code.Code{400: code.Code_INVALID_ARGUMENT, 401: code.Code_UNAUTHENTICATED, 403: code.Code_PERMISSION_DENIED}[int32(d.GetStatus().GetCode())]
	if resp.GetStatus().GetCode() != int32(wantCode) {
		t.Fatalf("gRPC status %d for HTTP %d", resp.GetStatus().GetCode(), d.GetStatus().GetCode())
	}
	return viewAnswer{status: int(d.GetStatus().GetCode()), reason: errorDescription(t, []byte(d.GetBody()))}
}

func sendHTTPService(t *testing.T, in *instance, method, path, host string, client map[string]string) viewAnswer {
	t.Helper()
	return sendHTTP(t, method, in.httpAddr, "/authz"+path, host, client)
}

func sendFamily(endpoint, methodH, uriH, hostH string) func(*testing.T, *instance, string, string, string, map[string]string) viewAnswer {
	return func(t *testing.T, in *instance, method, path, host string, client map[string]string) viewAnswer {
		t.Helper()
		h := map[string]string{methodH: method, uriH: path, hostH: host}
		for k, v := range client {
			h[k] = v
		}
		return sendHTTP(t, "GET", in.httpAddr, endpoint, "jwt-authz.internal", h)
	}
}

// sendHTTP sends the request target as it is, unescaped and uncleaned.
func sendHTTP(t *testing.T, method, addr, target, host string, headers map[string]string) viewAnswer {
	t.Helper()
	req := &http.Request{
		Method: method,
		URL:    &url.URL{Scheme: "http", Host: addr, Opaque: target},
		Host:   host,
		Header: http.Header{},
	}
	for k, v := range headers {
		req.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	resp, err := http.DefaultClient.Do(req.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := viewAnswer{status: resp.StatusCode, sub: resp.Header.Get("X-Jwt-Sub")}
	switch {
	case resp.StatusCode == 400 && string(body) == "400 Bad Request":
		a.reason = serverRefused
	case resp.StatusCode != 200:
		a.reason = errorDescription(t, body)
	}
	return a
}

func errorDescription(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
		t.Fatalf("error body %q", body)
	}
	return e.Description
}
