package extauthz

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/genproto/googleapis/rpc/code"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/jwks"
	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/token"
)

const iss = "https://idp.example.com/"

type keySource struct {
	mu          sync.Mutex
	keys        map[string]*jwks.Key
	unavailable bool
}

func (k *keySource) Key(_ context.Context, kid string) (*jwks.Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.unavailable {
		return nil, jwks.ErrUnavailable
	}
	if key, ok := k.keys[kid]; ok {
		return key, nil
	}
	return nil, jwks.ErrUnknownKey
}

// revoked is a RevocationChecker for unit tests.
type revoked struct {
	mu          sync.Mutex
	jtis        map[string]bool
	providers   map[string]bool // every token of these providers
	unavailable bool
	asked       []string // the provider of every Check
}

func (r *revoked) Check(provider, jti, _, _ string, _ int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, provider)
	if r.unavailable {
		return revocation.ErrUnavailable
	}
	if r.jtis[jti] || r.providers[provider] {
		return revocation.ErrRevoked
	}
	return nil
}

type env struct {
	t    *testing.T
	srv  *Server
	reg  *prometheus.Registry
	m    *Metrics
	key  *testkit.Key
	src  *keySource
	rev  *revoked
	prov *Provider
}

func newEnv(t *testing.T, mut func(*PolicyOptions)) *env {
	t.Helper()
	e := &env{t: t, reg: prometheus.NewRegistry(), key: testkit.NewKey(t, "ES256", "k1"), rev: &revoked{jtis: map[string]bool{}}}
	e.src = &keySource{keys: map[string]*jwks.Key{"k1": {ID: "k1", Public: e.key.Public()}}}
	e.m = NewMetrics(e.reg)
	e.prov = &Provider{
		Token:                &token.Provider{Name: "corp", Issuer: iss, Audiences: []string{"orders-api"}, ClockSkew: 30 * time.Second, RequireExp: true, Keys: e.src},
		ForwardClaims:        map[string]string{"sub": "x-jwt-sub", "realm_access.roles": "x-jwt-roles"},
		ForwardPayloadHeader: "x-jwt-payload",
		KeepAuthorization:    true,
	}
	srv, err := NewServer(e.policy(mut), Options{Revocation: e.rev, CacheEntries: 1000, Metrics: e.m})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	return e
}

func (e *env) policy(mut func(*PolicyOptions)) *Policy {
	e.t.Helper()
	v, err := token.NewVerifier([]*token.Provider{e.prov.Token}, token.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	opts := PolicyOptions{Verifier: v, Providers: []*Provider{e.prov}, BypassCORSPreflight: true}
	if mut != nil {
		mut(&opts)
	}
	pol, err := NewPolicy(opts, e.m)
	if err != nil {
		e.t.Fatal(err)
	}
	return pol
}

func (e *env) token(mut func(map[string]any)) string {
	c := testkit.Claims(iss, "alice", "orders-api")
	c["scope"] = "read write"
	c["tenant"] = "acme"
	c["realm_access"] = map[string]any{"roles": []any{"admin", "dev"}}
	if mut != nil {
		mut(c)
	}
	return testkit.Sign(e.t, e.key, c, nil)
}

// removeKey takes kid out of the key source and marks it removed, as a
// JWKS refresh without it does.
func (e *env) removeKey(kid string) {
	e.src.mu.Lock()
	k := e.src.keys[kid]
	delete(e.src.keys, kid)
	e.src.mu.Unlock()
	k.MarkRemoved()
}

func checkReq(method, path string, headers map[string]string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: method, Path: path, Host: "api.example.com", Headers: headers},
	}}}
}

func (e *env) check(method, path string, headers map[string]string) *authv3.CheckResponse {
	e.t.Helper()
	resp, err := e.srv.Check(e.t.Context(), checkReq(method, path, headers))
	if err != nil {
		e.t.Fatalf("Check returned an error: %v", err)
	}
	return resp
}

func bearerHdr(tok string) map[string]string {
	return map[string]string{"authorization": "Bearer " + tok}
}

func reasonOf(resp *authv3.CheckResponse) string {
	if resp.GetStatus().GetCode() == int32(code.Code_OK) {
		return "ok"
	}
	return resp.GetDynamicMetadata().GetFields()["jwt_authz"].GetStructValue().GetFields()["reason"].GetStringValue()
}

func headerOf(opts []*corev3.HeaderValueOption, name string) string {
	for _, o := range opts {
		if o.GetHeader().GetKey() == name {
			return o.GetHeader().GetValue()
		}
	}
	return ""
}

func TestCheckReasons(t *testing.T) {
	e := newEnv(t, nil)
	now := time.Now().Unix()
	other := testkit.NewKey(t, "ES256", "k1")
	tests := []struct {
		name    string
		headers map[string]string
		reason  string
		status  int
		grpc    code.Code
	}{
		{"valid", bearerHdr(e.token(nil)), "ok", 0, code.Code_OK},
		{"missing", map[string]string{}, "missing", 401, code.Code_UNAUTHENTICATED},
		{"basic scheme is no bearer", map[string]string{"authorization": "Basic YTpi"}, "missing", 401, code.Code_UNAUTHENTICATED},
		{"too large", bearerHdr(strings.Repeat("a", 9000)), "too_large", 401, code.Code_UNAUTHENTICATED},
		{"malformed", bearerHdr("abc"), "malformed", 401, code.Code_UNAUTHENTICATED},
		{"alg none", bearerHdr(testkit.Unsigned(t, testkit.Claims(iss, "a", "orders-api"))[0]), "unsupported_alg", 401, code.Code_UNAUTHENTICATED},
		{"unknown issuer", bearerHdr(testkit.Sign(t, e.key, testkit.Claims("https://evil/", "a", "orders-api"), nil)), "unknown_issuer", 401, code.Code_UNAUTHENTICATED},
		{"unknown kid", bearerHdr(testkit.Sign(t, e.key, testkit.Claims(iss, "a", "orders-api"), map[string]any{"kid": "k9"})), "unknown_kid", 401, code.Code_UNAUTHENTICATED},
		{"bad signature", bearerHdr(testkit.Sign(t, other, testkit.Claims(iss, "a", "orders-api"), nil)), "bad_signature", 401, code.Code_UNAUTHENTICATED},
		{"expired", bearerHdr(e.token(func(c map[string]any) { c["exp"] = now - 60; c["iat"] = now - 120 })), "expired", 401, code.Code_UNAUTHENTICATED},
		{"not yet valid", bearerHdr(e.token(func(c map[string]any) { c["nbf"] = now + 600 })), "not_yet_valid", 401, code.Code_UNAUTHENTICATED},
		{"bad audience", bearerHdr(e.token(func(c map[string]any) { c["aud"] = "billing" })), "bad_audience", 401, code.Code_UNAUTHENTICATED},
		{"revoked", bearerHdr(e.token(func(c map[string]any) { c["jti"] = "revoked-jti" })), "revoked", 401, code.Code_UNAUTHENTICATED},
	}
	e.rev.jtis["revoked-jti"] = true
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.check("GET", "/orders", tc.headers)
			if got := reasonOf(resp); got != tc.reason {
				t.Fatalf("reason = %q, want %q", got, tc.reason)
			}
			if resp.GetStatus().GetCode() != int32(tc.grpc) {
				t.Fatalf("grpc status = %v, want %v", resp.GetStatus().GetCode(), tc.grpc)
			}
			if tc.status == 0 {
				return
			}
			d := resp.GetDeniedResponse()
			if int(d.GetStatus().GetCode()) != tc.status {
				t.Fatalf("http status = %v, want %d", d.GetStatus().GetCode(), tc.status)
			}
			challenge := headerOf(d.GetHeaders(), "www-authenticate")
			want := `Bearer realm="jwt-authz", error="invalid_token", error_description="` + tc.reason + `"`
			if tc.reason == "missing" {
				want = `Bearer realm="jwt-authz"`
			}
			if challenge != want {
				t.Fatalf("WWW-Authenticate = %q, want %q", challenge, want)
			}
			if headerOf(d.GetHeaders(), "content-type") != "application/json" || !strings.Contains(d.GetBody(), `"error_description":"`+tc.reason+`"`) {
				t.Fatalf("body = %q", d.GetBody())
			}
			if strings.Contains(d.GetBody(), "eyJ") {
				t.Fatal("body echoes the token")
			}
		})
	}
}

func TestCheckUnavailable(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(nil)
	e.src.unavailable = true
	resp := e.check("GET", "/", bearerHdr(tok))
	assertUnavailable(t, resp, "keys_unavailable")

	e.src.unavailable = false
	e.rev.unavailable = true
	resp = e.check("GET", "/", bearerHdr(tok))
	assertUnavailable(t, resp, "store_unavailable")
}

func assertUnavailable(t *testing.T, resp *authv3.CheckResponse, reason string) {
	t.Helper()
	d := resp.GetDeniedResponse()
	if resp.GetStatus().GetCode() != int32(code.Code_UNAVAILABLE) || d.GetStatus().GetCode() != 503 {
		t.Fatalf("status = %v / %v, want UNAVAILABLE / 503", resp.GetStatus().GetCode(), d.GetStatus().GetCode())
	}
	if headerOf(d.GetHeaders(), "www-authenticate") != "" || headerOf(d.GetHeaders(), "retry-after") == "" {
		t.Fatalf("headers = %v", d.GetHeaders())
	}
	if d.GetBody() != `{"error":"temporarily_unavailable","error_description":"`+reason+`"}` {
		t.Fatalf("body = %s", d.GetBody())
	}
	if reasonOf(resp) != reason {
		t.Fatalf("reason %q", reasonOf(resp))
	}
}

func TestTokenSources(t *testing.T) {
	sources := []Source{{Header: "authorization"}, {Header: "x-access-token"}, {Cookie: "access_token"}, {Query: "access_token"}}
	e := newEnv(t, func(o *PolicyOptions) { o.Sources = sources })
	tok := e.token(nil)
	tests := []struct {
		name    string
		path    string
		headers map[string]string
		want    string
	}{
		{"bearer", "/", map[string]string{"authorization": "Bearer " + tok}, "ok"},
		{"bearer lower-case scheme", "/", map[string]string{"authorization": "bearer " + tok}, "ok"},
		{"bare header", "/", map[string]string{"x-access-token": tok}, "ok"},
		{"cookie", "/", map[string]string{"cookie": "a=b; access_token=" + tok + "; c=d"}, "ok"},
		{"query", "/x?foo=1&access_token=" + tok, map[string]string{}, "ok"},
		{"first source wins", "/", map[string]string{"authorization": "Bearer garbage", "x-access-token": tok}, "malformed"},
		{"nothing", "/?other=" + tok, map[string]string{"cookie": "other=" + tok}, "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := reasonOf(e.check("GET", tc.path, tc.headers)); got != tc.want {
				t.Fatalf("reason = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRules(t *testing.T) {
	second := &Provider{Token: &token.Provider{Name: "partner", Issuer: "https://partner.example/", RequireExp: true, Keys: &keySource{keys: map[string]*jwks.Key{}}}}
	rules := []Rule{
		{PathPrefix: "/healthz", AllowAnonymous: true},
		{PathPrefix: "/beta", DryRun: true, RequireScopes: []string{"beta"}},
		{PathPrefix: "/admin", Methods: []string{"POST", "DELETE"}, Host: "api.example.com", RequireScopes: []string{"admin"}, RequireClaims: map[string]string{"tenant": "acme"}},
		{PathPrefix: "/roles", RequireClaims: map[string]string{"realm_access.roles": "dev"}},
		{PathPrefix: "/partner", Providers: []string{"partner"}},
		{PathPrefix: "/tenant", RequireClaims: map[string]string{"tenant": "other"}},
	}
	e := newEnv(t, func(o *PolicyOptions) {
		o.Rules = rules
		o.Providers = append(o.Providers, second)
		v, err := token.NewVerifier([]*token.Provider{o.Providers[0].Token, second.Token}, token.Options{})
		if err != nil {
			t.Fatal(err)
		}
		o.Verifier = v
	})
	admin := e.token(func(c map[string]any) { c["scope"] = "admin" })
	plain := e.token(nil)
	tests := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		want    string
		status  int
	}{
		{"anonymous no token", "GET", "/healthz", nil, "ok", 0},
		{"anonymous bad token still denied", "GET", "/healthz", bearerHdr("junk"), "malformed", 401},
		{"dot-dot does not reach anonymous", "GET", "/healthz/../orders", nil, "ambiguous_path", 400},
		{"encoded dot-dot", "GET", "/healthz/%2e%2e/orders", nil, "ambiguous_path", 400},
		{"prefix is segment-aware", "GET", "/healthzz", nil, "missing", 401},
		{"lower-case method matches", "delete", "/admin/users", bearerHdr(plain), "insufficient_scope", 403},
		{"dry run rule allows", "GET", "/beta/x", bearerHdr(plain), "insufficient_scope", 0},
		{"admin with scope and claim", "POST", "/admin/users", bearerHdr(admin), "ok", 0},
		{"admin missing scope", "DELETE", "/admin/users", bearerHdr(plain), "insufficient_scope", 403},
		{"admin GET falls to default", "GET", "/admin/users", bearerHdr(plain), "ok", 0},
		{"nested claim in array", "GET", "/roles", bearerHdr(plain), "ok", 0},
		{"claim mismatch", "GET", "/tenant", bearerHdr(plain), "claim_mismatch", 403},
		{"provider not allowed on rule", "GET", "/partner", bearerHdr(plain), "unknown_issuer", 401},
		{"cors preflight", "OPTIONS", "/orders", map[string]string{"origin": "https://a", "access-control-request-method": "GET"}, "ok", 0},
		{"options without cors headers", "OPTIONS", "/orders", nil, "missing", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.check(tc.method, tc.path, tc.headers)
			status := int(resp.GetDeniedResponse().GetStatus().GetCode())
			got := reasonOf(resp)
			if tc.status == 0 && tc.want != "ok" {
				// dry run: allowed, yet counted as the reason
				if resp.GetStatus().GetCode() != int32(code.Code_OK) {
					t.Fatalf("dry run denied: %v", got)
				}
				return
			}
			if got != tc.want || status != tc.status {
				t.Fatalf("got %q/%d, want %q/%d", got, status, tc.want, tc.status)
			}
			if status == 403 {
				challenge := headerOf(resp.GetDeniedResponse().GetHeaders(), "www-authenticate")
				if !strings.Contains(challenge, `error="insufficient_scope"`) {
					t.Fatalf("challenge %q", challenge)
				}
				if tc.want == "insufficient_scope" && !strings.Contains(challenge, `scope="admin"`) {
					t.Fatalf("challenge %q lacks scope", challenge)
				}
			}
		})
	}
	if n := testutil.ToFloat64(e.m.checks.WithLabelValues("corp", "dry_run_denied", "insufficient_scope")); n != 1 {
		t.Fatalf("dry_run_denied count = %v", n)
	}
}

func TestGlobalDryRun(t *testing.T) {
	e := newEnv(t, func(o *PolicyOptions) { o.DryRun = true })
	resp := e.check("GET", "/", map[string]string{"authorization": "Bearer junk"})
	if resp.GetStatus().GetCode() != int32(code.Code_OK) {
		t.Fatal("dry run denied")
	}
	if n := testutil.ToFloat64(e.m.checks.WithLabelValues("none", "dry_run_denied", "malformed")); n != 1 {
		t.Fatalf("count = %v", n)
	}
}

func TestAllowedResponse(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(nil)
	resp := e.check("GET", "/", map[string]string{"authorization": "Bearer " + tok, "x-jwt-sub": "spoofed"})
	ok := resp.GetOkResponse()
	if headerOf(ok.GetHeaders(), "x-jwt-sub") != "alice" || headerOf(ok.GetHeaders(), "x-jwt-roles") != "admin,dev" {
		t.Fatalf("forwarded headers = %v", ok.GetHeaders())
	}
	if headerOf(ok.GetHeaders(), "x-jwt-payload") != strings.Split(tok, ".")[1] {
		t.Fatal("payload header differs from the token payload")
	}
	for _, h := range ok.GetHeaders() {
		if h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			t.Fatalf("header %s appended instead of overwritten", h.GetHeader().GetKey())
		}
	}
	md := resp.GetDynamicMetadata().GetFields()["jwt_authz"].GetStructValue().GetFields()
	if md["provider"].GetStringValue() != "corp" || md["payload"].GetStructValue().GetFields()["sub"].GetStringValue() != "alice" {
		t.Fatalf("dynamic metadata = %v", md)
	}

	// A token without the claim: the client's header is removed, not kept.
	noSub := e.token(func(c map[string]any) { delete(c, "sub") })
	ok = e.check("GET", "/", map[string]string{"authorization": "Bearer " + noSub}).GetOkResponse()
	if !contains(ok.GetHeadersToRemove(), "x-jwt-sub") {
		t.Fatalf("headers_to_remove = %v", ok.GetHeadersToRemove())
	}

	e.prov.KeepAuthorization = false
	e.prov = &Provider{Token: e.prov.Token, KeepAuthorization: false}
	e.srv.SetPolicy(e.policy(nil))
	ok = e.check("GET", "/", bearerHdr(tok)).GetOkResponse()
	if !contains(ok.GetHeadersToRemove(), "authorization") {
		t.Fatalf("authorization kept: %v", ok.GetHeadersToRemove())
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestCacheHitStillChecksRevocation(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(func(c map[string]any) { c["jti"] = "j-1" })
	for range 3 {
		if got := reasonOf(e.check("GET", "/", bearerHdr(tok))); got != "ok" {
			t.Fatalf("reason %q", got)
		}
	}
	if hits := testutil.ToFloat64(e.m.cacheHit); hits != 2 {
		t.Fatalf("cache hits = %v, want 2", hits)
	}
	e.rev.mu.Lock()
	e.rev.jtis["j-1"] = true
	e.rev.mu.Unlock()
	if got := reasonOf(e.check("GET", "/", bearerHdr(tok))); got != "revoked" {
		t.Fatalf("cached revoked token: reason %q", got)
	}
}

// Check asks about revocation with the verified provider's name, whether
// the token was verified now, found in the cache or in the hot tier.
func TestRevocationNamesTheProvider(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(nil)
	for range 4 {
		if got := reasonOf(e.check("GET", "/", bearerHdr(tok))); got != "ok" {
			t.Fatalf("reason %q", got)
		}
	}
	e.rev.mu.Lock()
	e.rev.providers = map[string]bool{"corp": true}
	e.rev.mu.Unlock()
	if got := reasonOf(e.check("GET", "/", bearerHdr(tok))); got != "revoked" {
		t.Fatalf("token of a revoked provider: reason %q", got)
	}
	e.rev.mu.Lock()
	defer e.rev.mu.Unlock()
	for i, p := range e.rev.asked {
		if p != "corp" {
			t.Fatalf("check %d asked about provider %q, want corp", i, p)
		}
	}
	if len(e.rev.asked) != 5 {
		t.Fatalf("%d revocation checks, want 5", len(e.rev.asked))
	}
}

func TestCacheDroppedWhenKeyRemovedOrProviderChanges(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(nil)
	e.check("GET", "/", bearerHdr(tok))
	// The key leaves the JWKS: the cached entry must not be served.
	e.removeKey("k1")
	if got := reasonOf(e.check("GET", "/", bearerHdr(tok))); got != "unknown_kid" {
		t.Fatalf("after key removal: %q", got)
	}

	e2 := newEnv(t, nil)
	tok2 := e2.token(nil)
	e2.check("GET", "/", bearerHdr(tok2))
	// The provider's config changes (a new *Provider): the entry is re-verified.
	changed := &Provider{Token: &token.Provider{Name: "corp", Issuer: iss, Audiences: []string{"billing"}, RequireExp: true, Keys: e2.src}}
	e2.prov = changed
	e2.srv.SetPolicy(e2.policy(nil))
	if got := reasonOf(e2.check("GET", "/", bearerHdr(tok2))); got != "bad_audience" {
		t.Fatalf("after provider change: %q", got)
	}
}

func TestForwardAuthHTTP(t *testing.T) {
	e := newEnv(t, func(o *PolicyOptions) {
		o.Rules = []Rule{
			{PathPrefix: "/public", AllowAnonymous: true},
			{Host: "open.example.com", AllowAnonymous: true},
		}
	})
	tok := e.token(nil)
	bearer := "Bearer " + tok
	h := e.srv.ForwardAuthHandler()
	tests := []struct {
		name    string
		method  string
		target  string
		host    string
		headers [][2]string
		status  int
		desc    string // error_description of a 400
	}{
		{"http_service with token", "GET", "/authz/orders", "api.example.com", [][2]string{{"Authorization", bearer}}, 200, ""},
		{"http_service missing", "GET", "/authz/orders", "api.example.com", nil, 401, ""},
		{"http_service anonymous", "GET", "/authz/public/x?y=1", "api.example.com", nil, 200, ""},
		{"http_service bare prefix", "GET", "/authz", "api.example.com", nil, 401, ""},
		{"http_service host", "POST", "/authz/x", "OPEN.example.com.:8080", nil, 200, ""},
		{"http_service ignores X-Forwarded-Host", "GET", "/authz/x", "api.example.com", [][2]string{{"X-Forwarded-Host", "open.example.com"}}, 401, ""},
		{"http_service refuses X-Original-URI", "GET", "/authz/x", "api.example.com", [][2]string{{"X-Original-URI", "/public"}}, 400, "/authz/... reads the request from its own URL, not from X-Original-URI; a proxy that sends X-Original-URI uses /forward/x-original"},
		{"http_service refuses X-Forwarded-Uri", "GET", "/authz/x", "api.example.com", [][2]string{{"X-Forwarded-Uri", "/public"}}, 400, "/authz/... reads the request from its own URL, not from X-Forwarded-Uri; a proxy that sends X-Forwarded-Uri uses /forward/x-forwarded"},
		{"http_service ambiguous", "GET", "/authz/public/..%2Fadmin", "api.example.com", nil, 400, "ambiguous_path"},
		{"x-original with token", "GET", "/forward/x-original", "auth", [][2]string{{"X-Original-Method", "GET"}, {"X-Original-URI", "/orders"}, {"X-Original-Host", "api.example.com"}, {"Authorization", bearer}}, 200, ""},
		{"x-original anonymous", "POST", "/forward/x-original", "auth", [][2]string{{"X-Original-Method", "GET"}, {"X-Original-URI", "/public/x"}}, 200, ""},
		{"x-original host", "GET", "/forward/x-original", "open.example.com", [][2]string{{"X-Original-Method", "GET"}, {"X-Original-URI", "/x"}, {"X-Original-Host", "Open.Example.com"}}, 200, ""},
		{"x-original no host header: no host", "GET", "/forward/x-original", "open.example.com", [][2]string{{"X-Original-Method", "GET"}, {"X-Original-URI", "/x"}}, 401, ""},
		{"x-original ignores X-Forwarded family", "GET", "/forward/x-original", "auth", [][2]string{{"X-Original-Method", "GET"}, {"X-Original-URI", "/x"}, {"X-Original-Host", "api.example.com"}, {"X-Forwarded-Uri", "/public"}, {"X-Forwarded-Host", "open.example.com"}}, 401, ""},
		{"x-original missing method", "GET", "/forward/x-original", "auth", [][2]string{{"X-Original-URI", "/public"}}, 400, "X-Original-Method header is required"},
		{"x-original missing uri", "GET", "/forward/x-original", "auth", [][2]string{{"X-Original-Method", "GET"}, {"X-Forwarded-Uri", "/public"}}, 400, "X-Original-URI header is required"},
		{"x-original repeated uri", "GET", "/forward/x-original", "auth", [][2]string{{"X-Original-Method", "GET"}, {"X-Original-URI", "/x"}, {"X-Original-URI", "/public"}}, 400, "X-Original-URI must be sent once"},
		{"x-original repeated host", "GET", "/forward/x-original", "auth", [][2]string{{"X-Original-Method", "GET"}, {"X-Original-URI", "/x"}, {"X-Original-Host", "a"}, {"X-Original-Host", "open.example.com"}}, 400, "X-Original-Host must be sent once"},
		{"x-original ambiguous", "GET", "/forward/x-original", "auth", [][2]string{{"X-Original-Method", "GET"}, {"X-Original-URI", `/public\..\admin`}}, 400, "ambiguous_path"},
		{"x-forwarded with token", "GET", "/forward/x-forwarded", "auth", [][2]string{{"X-Forwarded-Method", "DELETE"}, {"X-Forwarded-Uri", "/orders"}, {"X-Forwarded-Host", "api.example.com"}, {"Authorization", bearer}}, 200, ""},
		{"x-forwarded anonymous", "GET", "/forward/x-forwarded", "auth", [][2]string{{"X-Forwarded-Method", "GET"}, {"X-Forwarded-Uri", "/public?a=b"}}, 200, ""},
		{"x-forwarded ignores X-Original family", "GET", "/forward/x-forwarded", "auth", [][2]string{{"X-Forwarded-Method", "GET"}, {"X-Forwarded-Uri", "/x"}, {"X-Original-URI", "/public"}, {"X-Original-Host", "open.example.com"}}, 401, ""},
		{"x-forwarded missing method", "GET", "/forward/x-forwarded", "auth", [][2]string{{"X-Forwarded-Uri", "/public"}}, 400, "X-Forwarded-Method header is required"},
		{"x-forwarded empty uri", "GET", "/forward/x-forwarded", "auth", [][2]string{{"X-Forwarded-Method", "GET"}, {"X-Forwarded-Uri", ""}}, 400, "X-Forwarded-Uri header is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, nil)
			req.Host = tc.host
			req.Header.Set("X-Jwt-Sub", "spoofed")
			for _, kv := range tc.headers {
				req.Header.Add(kv[0], kv[1])
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
			switch {
			case tc.status == 200:
				want := ""
				for _, kv := range tc.headers {
					if kv[0] == "Authorization" {
						want = "alice"
					}
				}
				if got := rec.Header().Get("X-Jwt-Sub"); got != want {
					t.Fatalf("X-Jwt-Sub %q, want %q", got, want)
				}
			case tc.status == 401:
				if rec.Header().Get("WWW-Authenticate") == "" {
					t.Fatal("no challenge")
				}
			case tc.status == 400:
				if got := rec.Body.String(); got != jsonBody("invalid_request", tc.desc) || rec.Header().Get("Content-Type") != "application/json" {
					t.Fatalf("body %s", got)
				}
				if rec.Header().Get("WWW-Authenticate") != "" {
					t.Fatal("a 400 with a challenge")
				}
			}
		})
	}
	for target, want := range map[string]bool{
		"/authz": true, "/authz/": true, "/authz/x/../y": true, "/authz?x": true, "/authzx": false,
		"/forward/x-original": true, "/forward/x-original?a": true, "/forward/x-original/": false,
		"/forward/x-forwarded": true, "/forward": false, "/oauth2/token": false, "http://h/authz": false,
	} {
		if got := IsForwardAuthTarget(target); got != want {
			t.Errorf("IsForwardAuthTarget(%q) = %v", target, got)
		}
	}
}

func TestHeaderMapRequests(t *testing.T) {
	e := newEnv(t, nil)
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/", HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
			{Key: "Authorization", RawValue: []byte("Bearer " + e.token(nil))},
		}}},
	}}}
	resp, err := e.srv.Check(t.Context(), req)
	if err != nil || reasonOf(resp) != "ok" {
		t.Fatalf("header_map request: %v %v", reasonOf(resp), err)
	}
	// An empty request is a denial, not an error.
	resp, err = e.srv.Check(t.Context(), &authv3.CheckRequest{})
	if err != nil || reasonOf(resp) != "missing" {
		t.Fatalf("empty request: %v %v", reasonOf(resp), err)
	}
}

// TestCacheEntriesShareBindings: every token one key verified points at one
// binding, and a rotation leaves the bindings of the new key only.
func TestCacheEntriesShareBindings(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 20 {
		tok := e.token(func(c map[string]any) { c["jti"] = fmt.Sprint("j-", i) })
		if got := reasonOf(e.check("GET", "/", bearerHdr(tok))); got != "ok" {
			t.Fatalf("reason %q", got)
		}
	}
	if n, b := e.srv.CacheLen(), e.srv.bound.len(); n != 20 || b != 1 {
		t.Fatalf("%d cache entries on %d bindings, want 20 on 1", n, b)
	}

	// Rotate: k1 leaves, k2 signs.
	e.removeKey("k1")
	e.key = testkit.NewKey(t, "ES256", "k2")
	e.src.mu.Lock()
	e.src.keys["k2"] = &jwks.Key{ID: "k2", Public: e.key.Public()}
	e.src.mu.Unlock()
	if got := reasonOf(e.check("GET", "/", bearerHdr(e.token(nil)))); got != "ok" {
		t.Fatalf("token of the new key: reason %q", got)
	}
	m := *e.srv.bound.m.Load()
	if len(m) != 1 {
		t.Fatalf("%d bindings after rotation, want 1", len(m))
	}
	for vt := range m {
		if vt.key.ID != "k2" {
			t.Errorf("binding left for key %q, want k2 only", vt.key.ID)
		}
	}
}
