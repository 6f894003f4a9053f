package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// TestEndToEndTokenExchangeIntrospectRevoke exercises the OAuth endpoints
// through the whole server: RFC 8693 exchange of a provider token, RFC 7662
// introspection (admin token on http_addr, open on admin_addr), RFC 7009
// revocation, and Check denying the revoked session.
func TestEndToEndTokenExchangeIntrospectRevoke(t *testing.T) {
	k1 := testkit.NewKey(t, "ES256", "k1")
	js := newJWKSServer(t, k1)
	const adminToken = "0123456789abcdef0123456789abcdef"
	tokenFile := writeAdminToken(t, adminToken)
	cfg := strings.Replace(corpConfig(js.URL, ""), "issuer:\n  enabled: false\n", "", 1)
	cfg = strings.Replace(cfg, "revocation:\n  store: memory\n", "revocation:\n  store: bolt\n", 1)
	cfg += "admin_token_file: " + tokenFile + "\nissuer:\n  exchange_providers: [corp]\n"
	in := start(t, cfg, "")
	eventually(t, "ready", in.grpcServing)
	form := func(v url.Values) *strings.Reader { return strings.NewReader(v.Encode()) }
	const formType = "application/x-www-form-urlencoded"

	// Admin endpoints need the token.
	if status := in.adminJSON("POST", "/admin/tokens", map[string]any{"sub": "x"}, nil); status != 401 {
		t.Fatalf("admin without token: %d", status)
	}

	corp := corpToken(t, k1)
	status, body := do(t, "POST", "http://"+in.httpAddr+"/oauth2/token", formType, form(url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {corp},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:jwt"},
	}), nil)
	if status != 200 {
		t.Fatalf("exchange: %d %s", status, body)
	}
	var pair struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &pair); err != nil {
		t.Fatal(err)
	}
	if r := reasonOf(in.check(pair.AccessToken, "/")); r != "ok" {
		t.Fatalf("exchanged token at Check: %s", r)
	}

	introspect := func(addr string, header map[string]string, tok string) (int, map[string]any) {
		status, body := do(t, "POST", "http://"+addr+"/oauth2/introspect", formType, form(url.Values{"token": {tok}}), header)
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		return status, m
	}
	if status, _ := introspect(in.httpAddr, nil, pair.AccessToken); status != 401 {
		t.Fatalf("introspection on http_addr without admin token: %d", status)
	}
	status, m := introspect(in.httpAddr, map[string]string{"Authorization": "Bearer " + adminToken}, pair.AccessToken)
	if status != 200 || m["active"] != true || m["sub"] != "alice" {
		t.Fatalf("introspect: %d %v", status, m)
	}
	auth := map[string]string{"Authorization": "Bearer " + adminToken}
	if status, _ := introspect(in.adminAddr, nil, corp); status != 401 {
		t.Fatalf("introspection on admin_addr without admin token: %d", status)
	}
	if _, m := introspect(in.adminAddr, auth, corp); m["active"] != true {
		t.Fatalf("introspect provider token on admin_addr: %v", m)
	}

	// RFC 7009: revoking the refresh token revokes the session.
	status, body = do(t, "POST", "http://"+in.httpAddr+"/oauth2/revoke", formType, form(url.Values{"token": {pair.RefreshToken}}), nil)
	if status != 200 {
		t.Fatalf("revoke: %d %s", status, body)
	}
	if r := reasonOf(in.check(pair.AccessToken, "/")); r != "revoked" {
		t.Fatalf("access token after session revocation: %s", r)
	}
	if _, m := introspect(in.adminAddr, auth, pair.AccessToken); m["active"] != false {
		t.Fatalf("introspect revoked: %v", m)
	}
	// Unknown tokens still get 200 (RFC 7009 §2.2).
	if status, _ := do(t, "POST", "http://"+in.httpAddr+"/oauth2/revoke", formType, form(url.Values{"token": {"garbage"}}), nil); status != 200 {
		t.Fatalf("revoke garbage: %d", status)
	}
	// A revoked provider token cannot be exchanged.
	if status := in.adminJSONAuth("POST", "/admin/revocations", adminToken, map[string]any{"token": corp}); status != 201 {
		t.Fatalf("revoke corp token: %d", status)
	}
	status, body = do(t, "POST", "http://"+in.httpAddr+"/oauth2/token", formType, form(url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {corp},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:jwt"},
	}), nil)
	if status != 400 || !strings.Contains(string(body), "invalid_grant") {
		t.Fatalf("exchange of a revoked token: %d %s", status, body)
	}
}

func (in *instance) adminJSONAuth(method, path, token string, body any) int {
	in.t.Helper()
	b, _ := json.Marshal(body)
	status, _ := do(in.t, method, "http://"+in.adminAddr+path, "application/json", strings.NewReader(string(b)), map[string]string{"Authorization": "Bearer " + token})
	return status
}
