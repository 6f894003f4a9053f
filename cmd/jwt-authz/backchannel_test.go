package main

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/backchannel"
	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
)

const partnerIss = "https://partner.example.com/"

// logoutIdP is one identity provider of the back-channel tests: its key,
// served as a real JWKS, and the tokens it mints.
type logoutIdP struct {
	iss  string
	key  *testkit.Key
	jwks *jwksServer
}

func newLogoutIdP(t *testing.T, iss, kid string) *logoutIdP {
	k := testkit.NewKey(t, "ES256", kid)
	return &logoutIdP{iss: iss, key: k, jwks: newJWKSServer(t, k)}
}

// access mints an access token of the provider for sub in session sid
// ("" for none).
func (p *logoutIdP) access(t *testing.T, sub, sid string) string {
	c := testkit.Claims(p.iss, sub, "orders-api")
	if sid != "" {
		c["sid"] = sid
	}
	return testkit.Sign(t, p.key, c, nil)
}

// logoutToken mints a back-channel logout token of the provider.
func (p *logoutIdP) logoutToken(t *testing.T, sub, sid string) string {
	c := map[string]any{
		"iss":    p.iss,
		"aud":    "gateway",
		"iat":    time.Now().Unix(),
		"jti":    testkit.RandomID(),
		"events": map[string]any{backchannel.EventURI: map[string]any{}},
	}
	if sub != "" {
		c["sub"] = sub
	}
	if sid != "" {
		c["sid"] = sid
	}
	return testkit.Sign(t, p.key, c, map[string]any{"typ": "logout+jwt"})
}

func logoutProviders(corp, partner *logoutIdP) string {
	return fmt.Sprintf(`
providers:
  - name: corp
    issuer: %s
    audiences: [orders-api]
    jwks_uri: %s
    backchannel_logout:
      enabled: true
      audience: gateway
  - name: partner
    issuer: %s
    audiences: [orders-api]
    jwks_uri: %s
    backchannel_logout:
      enabled: true
      audience: gateway
`, corp.iss, corp.jwks.URL, partner.iss, partner.jwks.URL)
}

// postLogout posts a logout token to the instance's http_addr.
func (in *instance) postLogout(tok string) (int, string) {
	in.t.Helper()
	status, body := do(in.t, "POST", "http://"+in.httpAddr+backchannel.Path, "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"logout_token": {tok}}.Encode()), nil)
	return status, string(body)
}

// TestBackchannelLogoutAcrossReplicas logs a session out at one replica
// and waits for its tokens to be denied at the other, both sharing one
// real Redis; the same sid at another provider is another session and
// stays allowed.
func TestBackchannelLogoutAcrossReplicas(t *testing.T) {
	rs := redisserver.New(t)
	corp := newLogoutIdP(t, corpIss, "corp-1")
	partner := newLogoutIdP(t, partnerIss, "partner-1")
	cfg := fmt.Sprintf(`
issuer:
  enabled: false
revocation:
  store: redis
  redis_url: redis://%s/0
`, rs.Addr()) + logoutProviders(corp, partner)
	a, b := start(t, cfg, ""), start(t, cfg, "")
	for _, in := range []*instance{a, b} {
		eventually(t, "replica ready", in.grpcServing)
	}

	loggedOut := corp.access(t, "alice", "sess-1")
	otherSession := corp.access(t, "alice", "sess-2")
	sameSIDElsewhere := partner.access(t, "alice", "sess-1")
	for _, in := range []*instance{a, b} {
		for _, tok := range []string{loggedOut, otherSession, sameSIDElsewhere} {
			if got := reasonOf(in.check(tok, "/")); got != "ok" {
				t.Fatalf("before the logout: %s", got)
			}
		}
	}

	lt := corp.logoutToken(t, "alice", "sess-1")
	begin := time.Now()
	if status, body := a.postLogout(lt); status != 200 || body != "" {
		t.Fatalf("logout at replica A: %d %q", status, body)
	}
	eventually(t, "the session denied at replica B", func() bool { return reasonOf(b.check(loggedOut, "/")) == "revoked" })
	t.Logf("logout at replica A denied at replica B after %v (including the logout request)", time.Since(begin))
	if got := reasonOf(a.check(loggedOut, "/")); got != "revoked" {
		t.Fatalf("replica A: %s", got)
	}
	for _, in := range []*instance{a, b} {
		if got := reasonOf(in.check(otherSession, "/")); got != "ok" {
			t.Fatalf("another session of the provider: %s", got)
		}
		if got := reasonOf(in.check(sameSIDElsewhere, "/")); got != "ok" {
			t.Fatalf("the same sid at another provider: %s", got)
		}
	}

	// The same token again, at the other replica: a replay through Redis.
	if status, body := b.postLogout(lt); status != 400 || !strings.Contains(body, "jti was already used") {
		t.Fatalf("replay at replica B: %d %s", status, body)
	}

	// A logout with only sub revokes the subject's tokens of that provider
	// issued at or before it; the subject at another provider stays.
	bobCorp := corp.access(t, "bob", "")
	bobPartner := partner.access(t, "bob", "")
	if status, body := b.postLogout(corp.logoutToken(t, "bob", "")); status != 200 {
		t.Fatalf("sub logout: %d %s", status, body)
	}
	eventually(t, "the subject denied at replica A", func() bool { return reasonOf(a.check(bobCorp, "/")) == "revoked" })
	if got := reasonOf(a.check(bobPartner, "/")); got != "ok" {
		t.Fatalf("the subject at another provider: %s", got)
	}

	// The outcome metric on the admin listener.
	_, metrics := do(t, "GET", "http://"+b.adminAddr+"/metrics", "", nil, nil)
	for _, want := range []string{
		`jwt_authz_backchannel_logout_total{provider="corp",result="replayed"} 1`,
		`jwt_authz_backchannel_logout_total{provider="corp",result="revoked"} 1`,
		`jwt_authz_backchannel_logout_total{provider="partner",result="revoked"} 0`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("replica B /metrics lacks %s", want)
		}
	}
	for _, in := range []*instance{a, b} {
		if strings.Contains(in.logs.String(), lt) || strings.Contains(in.logs.String(), strings.Split(lt, ".")[1]) {
			t.Fatal("a log holds the logout token")
		}
	}
	if !strings.Contains(a.logs.String(), `"audit":"backchannel_logout"`) {
		t.Fatalf("no audit line at replica A:\n%s", a.logs)
	}
}

// TestBackchannelLogoutEndpoint checks the endpoint as the HTTP listener
// serves it: methods, content type, a provider without back-channel
// logout, and a reload that enables it.
func TestBackchannelLogoutEndpoint(t *testing.T) {
	corp := newLogoutIdP(t, corpIss, "corp-1")
	partner := newLogoutIdP(t, partnerIss, "partner-1")
	off := strings.ReplaceAll(logoutProviders(corp, partner), "enabled: true", "enabled: false")
	cfg := "issuer:\n  enabled: false\nrevocation:\n  store: memory\n" + off
	in := start(t, cfg, "")
	eventually(t, "ready", in.grpcServing)
	u := "http://" + in.httpAddr + backchannel.Path

	status, body := do(t, "GET", u, "", nil, nil)
	if status != 405 || !strings.Contains(string(body), `"error":"invalid_request"`) {
		t.Fatalf("GET: %d %s", status, body)
	}
	status, body = do(t, "POST", u, "application/json", strings.NewReader(`{"logout_token":"x"}`), nil)
	if status != 400 || !strings.Contains(string(body), "application/x-www-form-urlencoded") {
		t.Fatalf("JSON body: %d %s", status, body)
	}
	// An oversized body is a 400 like every other bad request, before
	// the listener's own body limit answers 413.
	status, body = do(t, "POST", u, "application/x-www-form-urlencoded", strings.NewReader("logout_token="+strings.Repeat("a", 128<<10)), nil)
	if status != 400 || !strings.Contains(string(body), "too large") {
		t.Fatalf("oversized body: %d %s", status, body)
	}
	tok := corp.access(t, "alice", "sess-1")
	if status, body := in.postLogout(corp.logoutToken(t, "alice", "sess-1")); status != 400 || !strings.Contains(body, "not enabled") {
		t.Fatalf("provider without back-channel logout: %d %s", status, body)
	}
	if got := reasonOf(in.check(tok, "/")); got != "ok" {
		t.Fatalf("after a refused logout: %s", got)
	}

	// A reload (the file watcher sees the change) that enables it applies
	// without a restart.
	writeConfig(t, in, strings.Replace(cfg, off, strings.Replace(off, "enabled: false", "enabled: true", 1), 1))
	eventually(t, "the reload enables back-channel logout", func() bool {
		status, _ := in.postLogout(corp.logoutToken(t, "alice", "sess-1"))
		return status == 200
	})
	if got := reasonOf(in.check(tok, "/")); got != "revoked" {
		t.Fatalf("after the logout: %s", got)
	}
}
