package issuer

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwt-authz/jwt-authz/extauthz"
	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/token"
)

// sessionRevocations answers Check's revocation question from the sessions
// the issuer revoked.
type sessionRevocations struct{ r *recordingRevoker }

func (s sessionRevocations) Check(_, _, sid, _ string, _ int64) error {
	if slices.Contains(s.r.revoked(), sid) {
		return revocation.ErrRevoked
	}
	return nil
}

// checkServer is the authorization check for the issuer's access tokens,
// wired as the service wires it: the issuer's own provider and key source,
// revocation by session.
func checkServer(t *testing.T, e *env) http.Handler {
	t.Helper()
	p := e.iss.AccessTokenProvider("self")
	v, err := token.NewVerifier([]*token.Provider{p}, token.Options{Clock: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	m := extauthz.NewMetrics(prometheus.NewRegistry())
	pol, err := extauthz.NewPolicy(extauthz.PolicyOptions{Verifier: v, Providers: []*extauthz.Provider{{Token: p}}}, m)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := extauthz.NewServer(pol, extauthz.Options{Revocation: sessionRevocations{e.revoker}, CacheEntries: 100, Metrics: m, Clock: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return srv.ForwardAuthHandler()
}

// The issuer and the authorization check verify the issuer's access tokens
// by one path and answer alike on good and bad tokens.
func TestIssuerAndCheckAgree(t *testing.T) {
	e := newEnv(t, envConfig{})
	check := checkServer(t, e)
	now := e.clock.Now().Unix()
	good := e.mint(t, "alice", "read", nil)
	_, goodClaims := parts(t, good.AccessToken)
	with := func(change func(c map[string]any)) map[string]any {
		c := map[string]any{}
		for k, v := range goodClaims {
			c[k] = v
		}
		change(c)
		return c
	}
	atHeader := map[string]any{"typ": typAccess}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	sigFlipped := good.AccessToken[:len(good.AccessToken)-10] + flipChar(good.AccessToken[len(good.AccessToken)-10]) + good.AccessToken[len(good.AccessToken)-9:]
	last := good.AccessToken[len(good.AccessToken)-1]
	nonCanonical := good.AccessToken[:len(good.AccessToken)-1] + string(alphabet[strings.IndexByte(alphabet, last)^1])

	revoked := e.mint(t, "bob", "read", nil)
	if rec := post(e.iss.RevokeHandler(), PathRevoke, url.Values{"token": {revoked.RefreshToken}}); rec.Code != http.StatusOK {
		t.Fatalf("revoke: %d", rec.Code)
	}

	corpus := []struct {
		name  string
		raw   string
		allow bool
	}{
		{"good", good.AccessToken, true},
		{"signed again with the issuer's key", e.signWithIssuerKey(t, goodClaims, atHeader), true},
		{"expired", e.signWithIssuerKey(t, with(func(c map[string]any) { c["exp"] = now - 31; c["iat"] = now - 600 }), atHeader), false},
		{"expired within the skew", e.signWithIssuerKey(t, with(func(c map[string]any) { c["exp"] = now - 5; c["iat"] = now - 600 }), atHeader), true},
		{"no exp", e.signWithIssuerKey(t, with(func(c map[string]any) { delete(c, "exp") }), atHeader), false},
		{"iat in the future", e.signWithIssuerKey(t, with(func(c map[string]any) { c["iat"] = now + 120 }), atHeader), false},
		{"nbf in the future", e.signWithIssuerKey(t, with(func(c map[string]any) { c["nbf"] = now + 120 }), atHeader), false},
		{"typ JWT", e.signWithIssuerKey(t, goodClaims, map[string]any{"typ": "JWT"}), false},
		{"typ application/at+jwt", e.signWithIssuerKey(t, goodClaims, map[string]any{"typ": "application/at+jwt"}), true},
		{"no typ", e.signWithIssuerKey(t, goodClaims, map[string]any{"typ": nil}), false},
		{"refresh token", good.RefreshToken, false},
		{"wrong aud", e.signWithIssuerKey(t, with(func(c map[string]any) { c["aud"] = "billing" }), atHeader), false},
		{"aud the issuer", e.signWithIssuerKey(t, with(func(c map[string]any) { c["aud"] = testIssuerURL }), atHeader), false},
		{"wrong iss", e.signWithIssuerKey(t, with(func(c map[string]any) { c["iss"] = "https://evil.example/" }), atHeader), false},
		{"bad signature", sigFlipped, false},
		{"non-canonical signature", nonCanonical, false},
		{"other key, same kid", testkit.Sign(t, &testkit.Key{Alg: "EdDSA", KID: e.iss.keys.SigningKeyID(), Private: otherKey}, goodClaims, atHeader), false},
		{"unknown kid", e.signWithIssuerKey(t, goodClaims, map[string]any{"typ": typAccess, "kid": "nope"}), false},
		{"alg none", testkit.Unsigned(t, goodClaims)[0], false},
		{"crit", e.signWithIssuerKey(t, goodClaims, map[string]any{"typ": typAccess, "crit": []string{"exp"}}), false},
		{"revoked session", revoked.AccessToken, false},
		{"garbage", "not.a.token", false},
	}
	for _, tc := range corpus {
		_, err := e.iss.verifyOwn(t.Context(), tc.raw, typAccess, false)
		issuerAllows := err == nil
		if tc.name == "revoked session" {
			// The issuer's answer for a revoked session is its refusal to
			// refresh it.
			issuerAllows = e.refresh(revoked.RefreshToken).Code == http.StatusOK
		}
		req := httptest.NewRequest(http.MethodGet, "/orders", nil)
		req.Header.Set("Authorization", "Bearer "+tc.raw)
		rec := httptest.NewRecorder()
		check.ServeHTTP(rec, req)
		checkAllows := rec.Code == http.StatusOK
		if issuerAllows != tc.allow || checkAllows != tc.allow {
			t.Errorf("%s: issuer allows %v (%v), check allows %v (%d %s), want %v",
				tc.name, issuerAllows, err, checkAllows, rec.Code, rec.Header().Get("WWW-Authenticate"), tc.allow)
		}
	}

	// Expiry: both refuse the good token once it is past exp and the skew.
	e.clock.Advance(DefaultAccessTokenTTL + ClockSkew + time.Second)
	if _, err := e.iss.verifyOwn(t.Context(), good.AccessToken, typAccess, false); err != errTokenExpired {
		t.Fatalf("issuer on an expired token: %v", err)
	}
	req := httptest.NewRequest(http.MethodGet, "/orders", nil)
	req.Header.Set("Authorization", "Bearer "+good.AccessToken)
	rec := httptest.NewRecorder()
	check.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Header().Get("WWW-Authenticate"), "expired") {
		t.Fatalf("check on an expired token: %d %s", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// flipChar replaces a base64url character by another.
func flipChar(c byte) string {
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[(i+17)%64])
}
