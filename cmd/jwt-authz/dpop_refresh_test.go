package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
)

// TestDPoPRefreshBindsUnboundSession: over real HTTP, two replicas sharing
// Redis and a signing key. A session minted without a proof is refreshed
// as a bearer session until a refresh carries a proof; that refresh binds
// it to the proof's key, and the other replica then refuses a refresh
// without a proof or with another key, and accepts the key's.
func TestDPoPRefreshBindsUnboundSession(t *testing.T) {
	rs := redisserver.New(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
revocation:
  store: redis
  redis_url: redis://%s/0
issuer:
  issuer: http://authz.test
  signing_key_file: %s
`, rs.Addr(), filepath.Join(dir, "signing-key.pem"))
	a := start(t, cfg, "")
	b := start(t, cfg, "")
	eventually(t, "ready", a.grpcServing)
	eventually(t, "ready", b.grpcServing)
	client, other := testkit.NewKey(t, "ES256", ""), testkit.NewKey(t, "EdDSA", "")

	refresh := func(in *instance, rt string, k *testkit.Key) (int, map[string]any) {
		t.Helper()
		h := map[string]string{}
		if k != nil {
			h["DPoP"] = testkit.DPoPProof(t, k, testkit.DPoPClaims("POST", "http://authz.test/oauth2/token", "", time.Now()), nil)
		}
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		status, body := do(t, "POST", "http://"+in.httpAddr+"/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), h)
		var out map[string]any
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("token endpoint: %d %s", status, body)
		}
		return status, out
	}

	_, rt := a.mint("alice", "read")
	status, pair := refresh(b, rt, nil)
	if status != http.StatusOK || pair["token_type"] != "Bearer" {
		t.Fatalf("bearer refresh of an unbound session: %d %v", status, pair)
	}
	status, pair = refresh(a, pair["refresh_token"].(string), client)
	if status != http.StatusOK || pair["token_type"] != "DPoP" {
		t.Fatalf("refresh with a proof: %d %v", status, pair)
	}
	bound := pair["refresh_token"].(string)
	if got := reasonOf(b.check(pair["access_token"].(string), "/")); got != "invalid_dpop_proof" {
		t.Fatalf("the bound access token as a bearer token at Check: %s", got)
	}
	for name, k := range map[string]*testkit.Key{"no proof": nil, "another key": other} {
		if status, out := refresh(b, bound, k); status != http.StatusBadRequest || out["error"] != "invalid_dpop_proof" {
			t.Fatalf("refresh of the bound session with %s at the other replica: %d %v", name, status, out)
		}
	}
	status, pair = refresh(b, bound, client)
	if status != http.StatusOK || pair["token_type"] != "DPoP" {
		t.Fatalf("refresh with the key's proof at the other replica: %d %v", status, pair)
	}
}
