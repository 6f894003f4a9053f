package issuer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeExchange validates subject tokens from a table.
type fakeExchange map[string]struct {
	provider string
	claims   map[string]any
	err      error
}

func (f fakeExchange) ValidateExchange(_ context.Context, raw string) (string, map[string]any, error) {
	r, ok := f[raw]
	if !ok {
		return "", nil, errors.New("unknown token")
	}
	return r.provider, r.claims, r.err
}

var corpClaims = map[string]any{
	"iss": "https://idp.example.com/", "sub": "alice", "aud": "orders-api", "exp": 4102444800, "jti": "corp-jti",
	"sid": "corp-session", "scope": "read write", "email": "alice@example.com", "groups": []any{"admins"},
}

func testExchange() fakeExchange {
	return fakeExchange{
		"corp-token":    {provider: "corp", claims: corpClaims},
		"other-token":   {provider: "partner", claims: corpClaims},
		"revoked-token": {provider: "corp", err: errors.New("token is revoked")},
		"expired-token": {provider: "corp", err: errors.New("token has expired")},
		"down-token":    {provider: "corp", err: fmt.Errorf("keys: %w", ErrTemporarilyUnavailable)},
		"no-sub-token":  {provider: "corp", claims: map[string]any{"iss": "x", "scope": "read"}},
		"scp-token":     {provider: "corp", claims: map[string]any{"sub": "bob", "scp": []any{"read", "write"}}},
		"bad-scp-token": {provider: "corp", claims: map[string]any{"sub": "bob", "scp": []any{"read", 7}}},
		"big-token": {provider: "corp", claims: map[string]any{"sub": "bob",
			"email": string(make([]byte, maxClaimsBytes))}},
	}
}

func exchangeForm(subjectToken string, extra url.Values) url.Values {
	v := url.Values{
		"grant_type":         {GrantTypeTokenExchange},
		"subject_token":      {subjectToken},
		"subject_token_type": {tokenTypeJWT},
	}
	for k, vs := range extra {
		v[k] = vs
	}
	return v
}

func TestTokenExchange(t *testing.T) {
	e := newEnv(t, envConfig{})
	h := e.iss.TokenHandler(testExchange())
	rec := post(h, PathToken, exchangeForm("corp-token", nil))
	resp := tokenOK(t, rec)
	if resp.IssuedTokenType != tokenTypeAccess || resp.Scope != "read write" {
		t.Fatalf("response %s", rec.Body)
	}
	_, ac := parts(t, resp.AccessToken)
	if ac["sub"] != "alice" || ac["scope"] != "read write" || ac["email"] != "alice@example.com" || ac["iss"] != testIssuerURL {
		t.Fatalf("access claims %v", ac)
	}
	for _, notCarried := range []string{"groups"} {
		if _, ok := ac[notCarried]; ok {
			t.Fatalf("claim %s carried over without being configured", notCarried)
		}
	}
	if ac["sid"] == "corp-session" || ac["jti"] == "corp-jti" || ac["aud"] != "orders-api" {
		t.Fatalf("registered claims taken from the subject token: %v", ac)
	}
	s, err := e.store.Get(t.Context(), ac["sid"].(string))
	if err != nil || s.Subject != "alice" {
		t.Fatalf("session %+v %v", s, err)
	}
	// The exchanged session refreshes like any other.
	tokenOK(t, e.refresh(resp.RefreshToken))
	if got := testutil.ToFloat64(e.iss.metrics.requests.WithLabelValues("token_exchange", "issued")); got != 1 {
		t.Fatalf("issued %v", got)
	}
}

func TestTokenExchangeClaimsOption(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *Options) { o.ExchangeClaims = []string{"sub", "groups", "exp", "sid"} }})
	resp := tokenOK(t, post(e.iss.TokenHandler(testExchange()), PathToken, exchangeForm("corp-token", nil)))
	_, ac := parts(t, resp.AccessToken)
	if _, ok := ac["email"]; ok || ac["scope"] != nil {
		t.Fatalf("unlisted claims carried: %v", ac)
	}
	if g, _ := ac["groups"].([]any); len(g) != 1 || g[0] != "admins" {
		t.Fatalf("groups %v", ac["groups"])
	}
	if ac["sid"] == "corp-session" || ac["exp"] == float64(4102444800) {
		t.Fatalf("registered claims carried over: %v", ac)
	}
}

func TestTokenExchangeScopes(t *testing.T) {
	e := newEnv(t, envConfig{})
	h := e.iss.TokenHandler(testExchange())
	narrow := tokenOK(t, post(h, PathToken, exchangeForm("corp-token", url.Values{"scope": {"read"}})))
	if narrow.Scope != "read" {
		t.Fatalf("narrowed scope %q", narrow.Scope)
	}
	if scp := tokenOK(t, post(h, PathToken, exchangeForm("scp-token", nil))); scp.Scope != "read write" {
		t.Fatalf("scope from scp %q", scp.Scope)
	}
	aud := tokenOK(t, post(h, PathToken, exchangeForm("corp-token", url.Values{"audience": {"orders-api"}, "requested_token_type": {tokenTypeAccess}})))
	if aud.AccessToken == "" {
		t.Fatal("no token")
	}
}

func TestTokenExchangeErrors(t *testing.T) {
	tests := map[string]struct {
		form   url.Values
		status int
		code   string
		result string
	}{
		"revoked subject token":      {exchangeForm("revoked-token", nil), 400, "invalid_grant", "invalid_grant"},
		"expired subject token":      {exchangeForm("expired-token", nil), 400, "invalid_grant", "invalid_grant"},
		"unknown subject token":      {exchangeForm("forged", nil), 400, "invalid_grant", "invalid_grant"},
		"provider not allowed":       {exchangeForm("other-token", nil), 400, "invalid_grant", "invalid_grant"},
		"no sub":                     {exchangeForm("no-sub-token", nil), 400, "invalid_grant", "invalid_grant"},
		"malformed scp":              {exchangeForm("bad-scp-token", nil), 400, "invalid_grant", "invalid_grant"},
		"claims too large":           {exchangeForm("big-token", nil), 400, "invalid_grant", "invalid_grant"},
		"validator unavailable":      {exchangeForm("down-token", nil), 503, "temporarily_unavailable", "error"},
		"missing subject_token":      {exchangeForm("", nil), 400, "invalid_request", "invalid_request"},
		"missing subject_token_type": {url.Values{"grant_type": {GrantTypeTokenExchange}, "subject_token": {"corp-token"}}, 400, "invalid_request", "invalid_request"},
		"SAML subject_token_type":    {exchangeForm("corp-token", url.Values{"subject_token_type": {"urn:ietf:params:oauth:token-type:saml2"}}), 400, "invalid_request", "invalid_request"},
		"actor token":                {exchangeForm("corp-token", url.Values{"actor_token": {"x"}, "actor_token_type": {tokenTypeJWT}}), 400, "invalid_request", "invalid_request"},
		"requested id_token":         {exchangeForm("corp-token", url.Values{"requested_token_type": {"urn:ietf:params:oauth:token-type:id_token"}}), 400, "invalid_request", "invalid_request"},
		"unknown audience":           {exchangeForm("corp-token", url.Values{"audience": {"orders-api", "payroll"}}), 400, "invalid_target", "invalid_request"},
		"unknown resource":           {exchangeForm("corp-token", url.Values{"resource": {"https://payroll.example.com"}}), 400, "invalid_target", "invalid_request"},
		"scope beyond the token":     {exchangeForm("corp-token", url.Values{"scope": {"read admin"}}), 400, "invalid_scope", "invalid_request"},
		"malformed scope":            {exchangeForm("corp-token", url.Values{"scope": {"read\x01"}}), 400, "invalid_scope", "invalid_request"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envConfig{})
			rec := post(e.iss.TokenHandler(testExchange()), PathToken, tc.form)
			if code := oauthErr(t, rec, tc.status); code != tc.code {
				t.Fatalf("code %q, want %q: %s", code, tc.code, rec.Body)
			}
			if tc.status == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			if got := testutil.ToFloat64(e.iss.metrics.requests.WithLabelValues("token_exchange", tc.result)); got != 1 {
				t.Fatalf("token_exchange/%s counter %v", tc.result, got)
			}
		})
	}
}

func TestTokenExchangeDisabled(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *Options) { o.ExchangeProviders = nil }})
	rec := post(e.iss.TokenHandler(testExchange()), PathToken, exchangeForm("corp-token", nil))
	if code := oauthErr(t, rec, 400); code != "unsupported_grant_type" {
		t.Fatalf("code %q", code)
	}
}
