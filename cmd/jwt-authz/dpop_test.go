package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
)

// TestDPoPAcrossReplicas runs two replicas sharing Redis, a signing key
// and a DPoP nonce key: the token endpoint of one issues a DPoP-bound
// session for a proof, Check accepts its access token with a fresh proof
// on either replica, refuses a proof replayed at the other, and the
// session's refresh token needs a proof by the same key at either.
func TestDPoPAcrossReplicas(t *testing.T) {
	corpKey := testkit.NewKey(t, "ES256", "k1")
	js := newJWKSServer(t, corpKey)
	rs := redisserver.New(t)
	dir := t.TempDir()
	nonceKey := filepath.Join(dir, "dpop-nonce-key")
	if err := os.WriteFile(nonceKey, []byte(strings.Repeat("n", 48)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`
revocation:
  store: redis
  redis_url: redis://%s/0
dpop_nonce_key_file: %s
issuer:
  issuer: http://authz.test
  signing_key_file: %s
  exchange_providers: [corp]
providers:
  - name: corp
    issuer: %s
    audiences: [orders-api]
    jwks_uri: %s
    dpop: required
    dpop_nonce: true
`, rs.Addr(), nonceKey, filepath.Join(dir, "signing-key.pem"), corpIss, js.URL)
	a := start(t, cfg, "")
	b := start(t, cfg, "")
	eventually(t, "ready", a.grpcServing)
	eventually(t, "ready", b.grpcServing)
	client, other := testkit.NewKey(t, "ES256", ""), testkit.NewKey(t, "EdDSA", "")
	const uri = "https://api.example.com/orders"

	tokenEndpoint := func(in *instance, form url.Values, proof string) (int, map[string]any) {
		t.Helper()
		h := map[string]string{}
		if proof != "" {
			h["DPoP"] = proof
		}
		status, body := do(t, "POST", "http://"+in.httpAddr+"/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), h)
		var out map[string]any
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("token endpoint: %d %s", status, body)
		}
		return status, out
	}
	tokenProof := func(k *testkit.Key) string {
		return testkit.DPoPProof(t, k, testkit.DPoPClaims("POST", "http://authz.test/oauth2/token", "", time.Now()), nil)
	}
	check := func(in *instance, auth, proof string) *authv3.CheckResponse {
		t.Helper()
		h := map[string]string{"authorization": auth}
		if proof != "" {
			h["dpop"] = proof
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		resp, err := authv3.NewAuthorizationClient(in.conn).Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "GET", Path: "/orders", Host: "api.example.com", Scheme: "https", Headers: h}}}})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		return resp
	}
	resourceProof := func(k *testkit.Key, tok string) string {
		return testkit.DPoPProof(t, k, testkit.DPoPClaims("GET", uri, tok, time.Now()), nil)
	}

	// A session exchanged with a proof is bound to the proof's key.
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {testkit.Sign(t, corpKey, testkit.Claims(corpIss, "alice", "orders-api"), nil)},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:jwt"}}
	status, pair := tokenEndpoint(a, form, tokenProof(client))
	if status != 200 || pair["token_type"] != "DPoP" {
		t.Fatalf("exchange with a proof: %d %v", status, pair)
	}
	access, refresh := pair["access_token"].(string), pair["refresh_token"].(string)

	// Check: the bound self token with a fresh proof, at either replica.
	for _, in := range []*instance{a, b, a} {
		if got := reasonOf(check(in, "DPoP "+access, resourceProof(client, access))); got != "ok" {
			t.Fatalf("bound token with its proof: %s", got)
		}
	}
	p := resourceProof(client, access)
	if got := reasonOf(check(a, "DPoP "+access, p)); got != "ok" {
		t.Fatalf("first use: %s", got)
	}
	for name, resp := range map[string]*authv3.CheckResponse{
		"replayed at the other replica": check(b, "DPoP "+access, p),
		"as Bearer":                     check(b, "Bearer "+access, resourceProof(client, access)),
		"proof by another key":          check(a, "DPoP "+access, resourceProof(other, access)),
	} {
		if got := reasonOf(resp); got != "invalid_dpop_proof" {
			t.Fatalf("%s: %s", name, got)
		}
		www := resp.GetDeniedResponse().GetHeaders()
		if v := findHeader(www, "www-authenticate"); !strings.HasPrefix(v, `DPoP error="invalid_dpop_proof", algs="`) {
			t.Fatalf("%s: challenge %q", name, v)
		}
	}

	// corp requires DPoP and nonces: a bearer token is refused, a bound
	// one gets a nonce from one replica that the other accepts.
	if got := reasonOf(check(a, "Bearer "+testkit.Sign(t, corpKey, testkit.Claims(corpIss, "bob", "orders-api"), nil), "")); got != "invalid_dpop_proof" {
		t.Fatalf("unbound corp token: %s", got)
	}
	cc := testkit.Claims(corpIss, "bob", "orders-api")
	cc["cnf"] = map[string]any{"jkt": client.JKT(t)}
	corpBound := testkit.Sign(t, corpKey, cc, nil)
	resp := check(a, "DPoP "+corpBound, resourceProof(client, corpBound))
	nonce := findHeader(resp.GetDeniedResponse().GetHeaders(), "dpop-nonce")
	if reasonOf(resp) != "invalid_dpop_proof" || nonce == "" {
		t.Fatalf("no nonce asked for: %s %v", reasonOf(resp), resp.GetDeniedResponse().GetHeaders())
	}
	withNonce := testkit.DPoPClaims("GET", uri, corpBound, time.Now())
	withNonce["nonce"] = nonce
	if got := reasonOf(check(b, "DPoP "+corpBound, testkit.DPoPProof(t, client, withNonce, nil))); got != "ok" {
		t.Fatalf("nonce of replica a at replica b: %s", got)
	}

	// The bound refresh token needs a proof by the same key, at either replica.
	rform := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
	for name, proof := range map[string]string{"no proof": "", "another key": tokenProof(other)} {
		if status, out := tokenEndpoint(b, rform, proof); status != http.StatusBadRequest || out["error"] != "invalid_dpop_proof" {
			t.Fatalf("refresh with %s: %d %v", name, status, out)
		}
	}
	status, next := tokenEndpoint(b, rform, tokenProof(client))
	if status != 200 || next["token_type"] != "DPoP" {
		t.Fatalf("refresh with the key's proof: %d %v", status, next)
	}
	var disc map[string]any
	_, body := do(t, "GET", "http://"+a.httpAddr+"/.well-known/openid-configuration", "", nil, nil)
	if err := json.Unmarshal(body, &disc); err != nil || disc["dpop_signing_alg_values_supported"] == nil {
		t.Fatalf("discovery: %s", body)
	}
}

func findHeader(opts []*corev3.HeaderValueOption, name string) string {
	for _, o := range opts {
		if o.GetHeader().GetKey() == name {
			return o.GetHeader().GetValue()
		}
	}
	return ""
}
