package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jwt-authz/jwt-authz/backchannel"
)

// TestBackchannelLogoutRateLimit floods the logout endpoint over real
// HTTP: one address is refused once its own bucket is empty, and then
// every address once the overall bucket is; a refused request never
// reaches the handler, so a valid logout token in it revokes nothing.
func TestBackchannelLogoutRateLimit(t *testing.T) {
	corp := newLogoutIdP(t, corpIss, "corp-1")
	partner := newLogoutIdP(t, partnerIss, "partner-1")
	cfg := `
issuer:
  enabled: false
revocation:
  store: memory
backchannel_logout_rate_limit:
  requests_per_second: 1
  burst: 2
  total_requests_per_second: 1
  total_burst: 4
  client_ip_header: x-forwarded-for
` + logoutProviders(corp, partner)
	in := start(t, cfg, "")
	eventually(t, "ready", in.grpcServing)

	post := func(client, tok string) (int, http.Header, map[string]string) {
		t.Helper()
		req, err := http.NewRequest("POST", "http://"+in.httpAddr+backchannel.Path, strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "192.0.2.200, "+client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, resp.Header, m
	}
	tooMany := func(what, client, tok, from string) {
		t.Helper()
		status, hdr, body := post(client, tok)
		if status != http.StatusTooManyRequests {
			t.Fatalf("%s: %d %v, want 429", what, status, body)
		}
		if hdr.Get("Retry-After") == "" || hdr.Get("Cache-Control") != "no-store" || hdr.Get("Content-Type") != "application/json" {
			t.Errorf("%s: headers %v", what, hdr)
		}
		if body["error"] != "slow_down" || !strings.Contains(body["error_description"], from) {
			t.Errorf("%s: body %v, want slow_down %q", what, body, from)
		}
	}

	// Address A spends its burst (a real logout and a forged token), and
	// is refused; the refusal is not charged to the overall bucket.
	if status, _, body := post("203.0.113.1", corp.logoutToken(t, "alice", "sess-a")); status != http.StatusOK {
		t.Fatalf("first logout: %d %v", status, body)
	}
	if status, _, _ := post("203.0.113.1", "forged"); status != http.StatusBadRequest {
		t.Fatalf("forged token: %d, want 400", status)
	}
	tooMany("third request from one address", "203.0.113.1", "forged", "from this address")

	// Two more addresses take what is left of the overall burst...
	for _, client := range []string{"203.0.113.2", "203.0.113.3"} {
		if status, _, _ := post(client, "forged"); status != http.StatusBadRequest {
			t.Fatalf("%s: %d, want 400", client, status)
		}
	}
	// ...and a fourth is refused although its own bucket is full: its
	// valid logout token is not looked at.
	session := corp.access(t, "bob", "sess-d")
	tooMany("fourth address", "203.0.113.4", corp.logoutToken(t, "bob", "sess-d"), "to this endpoint")
	if got := reasonOf(in.check(session, "/")); got != "ok" {
		t.Fatalf("a session whose logout was refused with 429: %s, want still allowed", got)
	}

	if n := metricValue(t, in, "jwt_authz_rate_limited_total", `endpoint="backchannel_logout"`); n != 2 {
		t.Fatalf(`jwt_authz_rate_limited_total{endpoint="backchannel_logout"} = %v, want 2`, n)
	}
	if n := metricValue(t, in, "jwt_authz_backchannel_logout_total", `provider="corp"`, `result="revoked"`); n != 1 {
		t.Fatalf(`jwt_authz_backchannel_logout_total{provider="corp",result="revoked"} = %v, want 1`, n)
	}
}
