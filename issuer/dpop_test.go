package issuer

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/dpop"
	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/replay"
)

const tokenURI = testIssuerURL + PathToken

// newDPoPEnv is an issuer whose token endpoint checks DPoP proofs;
// nonces, when set, are required.
func newDPoPEnv(t *testing.T, nonces *dpop.Nonces) *env {
	t.Helper()
	c, err := dpop.New(dpop.Config{Provider: "self", Algorithms: []string{"ES256", "EdDSA"}, MaxAge: time.Minute,
		ClockSkew: ClockSkew, Replay: replay.NewMemory(1000), Nonces: nonces})
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, envConfig{opts: func(o *Options) { o.DPoP = c }})
}

// postDPoP posts a form with the given DPoP headers.
func postDPoP(h http.Handler, path string, form url.Values, proofs ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func (e *env) proof(t *testing.T, k *testkit.Key, uri string, mut func(map[string]any)) string {
	c := testkit.DPoPClaims("POST", uri, "", e.clock.Now())
	if mut != nil {
		mut(c)
	}
	return testkit.DPoPProof(t, k, c, nil)
}

// dpopToken decodes a successful answer that must be DPoP-bound to k.
func dpopToken(t *testing.T, rec *httptest.ResponseRecorder, k *testkit.Key) *TokenResponse {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	var resp TokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.TokenType != "DPoP" {
		t.Fatalf("token_type %q, want DPoP", resp.TokenType)
	}
	_, claims := parts(t, resp.AccessToken)
	cnf, _ := claims["cnf"].(map[string]any)
	if cnf["jkt"] != k.JKT(t) {
		t.Fatalf("access token cnf %v, want jkt %s", claims["cnf"], k.JKT(t))
	}
	return &resp
}

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
}

// TestDPoPBoundRefreshToken: a session started with a proof is bound to
// its key; its refresh token is refreshed only with a proof by that key.
func TestDPoPBoundRefreshToken(t *testing.T) {
	e := newDPoPEnv(t, nil)
	h := e.iss.TokenHandler(testExchange())
	key, other := testkit.NewKey(t, "ES256", ""), testkit.NewKey(t, "EdDSA", "")
	first := dpopToken(t, postDPoP(h, PathToken, exchangeForm("corp-token", nil), e.proof(t, key, tokenURI, nil)), key)
	if _, claims := parts(t, first.RefreshToken); claims["cnf"] != nil {
		t.Fatal("the refresh token itself names the key; the session keeps it")
	}

	for name, proofs := range map[string][]string{
		"no proof":                  nil,
		"proof by another key":      {e.proof(t, other, tokenURI, nil)},
		"proof for another URI":     {e.proof(t, key, "https://auth.example.com/other", nil)},
		"proof for the refresh URI": {e.proof(t, key, testIssuerURL+PathRefresh, nil)},
		"two proofs":                {e.proof(t, key, tokenURI, nil), e.proof(t, key, tokenURI, nil)},
		"expired proof": {e.proof(t, key, tokenURI, func(c map[string]any) {
			c["iat"] = e.clock.Now().Add(-5 * time.Minute).Unix()
		})},
		"proof with GET": {e.proof(t, key, tokenURI, func(c map[string]any) { c["htm"] = "GET" })},
	} {
		rec := postDPoP(h, PathToken, refreshForm(first.RefreshToken), proofs...)
		if got := oauthErr(t, rec, http.StatusBadRequest); got != "invalid_dpop_proof" {
			t.Fatalf("%s: error %s, want invalid_dpop_proof", name, got)
		}
	}
	// None of the refusals used the refresh token up or revoked the session.
	next := dpopToken(t, postDPoP(h, PathToken, refreshForm(first.RefreshToken), e.proof(t, key, tokenURI, nil)), key)
	// The refresh endpoint takes proofs for its own URI.
	dpopToken(t, postDPoP(h, PathRefresh, url.Values{"refresh_token": {next.RefreshToken}}, e.proof(t, key, testIssuerURL+PathRefresh, nil)), key)
	if len(e.revoker.revoked()) != 0 {
		t.Fatalf("session revoked: %v", e.revoker.revoked())
	}
}

// TestDPoPReplayedProofRefused: a proof accepted once is refused the
// second time, at the token endpoint too.
func TestDPoPReplayedProofRefused(t *testing.T) {
	e := newDPoPEnv(t, nil)
	h := e.iss.TokenHandler(testExchange())
	key := testkit.NewKey(t, "ES256", "")
	p := e.proof(t, key, tokenURI, nil)
	dpopToken(t, postDPoP(h, PathToken, exchangeForm("corp-token", nil), p), key)
	if got := oauthErr(t, postDPoP(h, PathToken, exchangeForm("corp-token", nil), p), http.StatusBadRequest); got != "invalid_dpop_proof" {
		t.Fatalf("replayed proof: %s", got)
	}
}

// TestDPoPUnboundSessionRefresh: a session minted without a proof stays
// a bearer session while it is refreshed without one; the first refresh
// with a proof binds it to the proof's key (RFC 9449 §5), and from then
// on it is refreshed only with a proof by that key.
func TestDPoPUnboundSessionRefresh(t *testing.T) {
	e := newDPoPEnv(t, nil)
	h := e.iss.TokenHandler(nil)
	key, other := testkit.NewKey(t, "EdDSA", ""), testkit.NewKey(t, "ES256", "")
	minted := e.mint(t, "alice", "read", nil)
	plain := tokenOK(t, postDPoP(h, PathToken, refreshForm(minted.RefreshToken)))
	if _, claims := parts(t, plain.AccessToken); claims["cnf"] != nil || plain.TokenType != "Bearer" {
		t.Fatalf("bearer refresh of an unbound session: token_type %s, cnf %v", plain.TokenType, claims["cnf"])
	}
	if got := oauthErr(t, postDPoP(h, PathToken, refreshForm(plain.RefreshToken), "not.a.proof"), http.StatusBadRequest); got != "invalid_dpop_proof" {
		t.Fatalf("bad proof on an unbound session: %s", got)
	}
	bound := dpopToken(t, postDPoP(h, PathToken, refreshForm(plain.RefreshToken), e.proof(t, key, tokenURI, nil)), key)
	_, claims := parts(t, bound.AccessToken)
	sid, _ := claims["sid"].(string)
	if s, err := e.store.Get(t.Context(), sid); err != nil || s.JKT != key.JKT(t) {
		t.Fatalf("session after the refresh with a proof: key %q, %v; want %s", s.JKT, err, key.JKT(t))
	}
	for name, proofs := range map[string][]string{
		"no proof":             nil,
		"proof by another key": {e.proof(t, other, tokenURI, nil)},
	} {
		if got := oauthErr(t, postDPoP(h, PathToken, refreshForm(bound.RefreshToken), proofs...), http.StatusBadRequest); got != "invalid_dpop_proof" {
			t.Fatalf("%s after the binding: %s, want invalid_dpop_proof", name, got)
		}
	}
	// The refusals used nothing up: the key's proof still refreshes.
	next := dpopToken(t, postDPoP(h, PathToken, refreshForm(bound.RefreshToken), e.proof(t, key, tokenURI, nil)), key)
	dpopToken(t, postDPoP(h, PathToken, refreshForm(next.RefreshToken), e.proof(t, key, tokenURI, nil)), key)
	if len(e.revoker.revoked()) != 0 {
		t.Fatalf("session revoked: %v", e.revoker.revoked())
	}
}

func TestDPoPTokenEndpointNonce(t *testing.T) {
	nonces, err := dpop.NewNonces([]byte(strings.Repeat("n", 32)), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	e := newDPoPEnv(t, nonces)
	h := e.iss.TokenHandler(testExchange())
	key := testkit.NewKey(t, "ES256", "")
	rec := postDPoP(h, PathToken, exchangeForm("corp-token", nil), e.proof(t, key, tokenURI, nil))
	if got := oauthErr(t, rec, http.StatusBadRequest); got != "use_dpop_nonce" {
		t.Fatalf("error %s, want use_dpop_nonce", got)
	}
	nonce := rec.Header().Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("no DPoP-Nonce")
	}
	p := e.proof(t, key, tokenURI, func(c map[string]any) { c["nonce"] = nonce })
	rec = postDPoP(h, PathToken, exchangeForm("corp-token", nil), p)
	first := dpopToken(t, rec, key)
	if got := rec.Header().Get("DPoP-Nonce"); got != "" {
		t.Fatalf("DPoP-Nonce %q with a current nonce", got)
	}

	// A minute on, the nonce is of the previous window: still accepted,
	// and the answer carries the current one (RFC 9449 §8.2).
	e.clock.Advance(time.Minute)
	p = e.proof(t, key, tokenURI, func(c map[string]any) { c["nonce"] = nonce })
	rec = postDPoP(h, PathToken, refreshForm(first.RefreshToken), p)
	next := dpopToken(t, rec, key)
	fresh := rec.Header().Get("DPoP-Nonce")
	if fresh == "" || fresh == nonce || fresh != nonces.Current(e.clock.Now()) {
		t.Fatalf("DPoP-Nonce %q with a nonce of the previous window, want the current one", fresh)
	}
	p = e.proof(t, key, tokenURI, func(c map[string]any) { c["nonce"] = fresh })
	if rec := postDPoP(h, PathToken, refreshForm(next.RefreshToken), p); rec.Header().Get("DPoP-Nonce") != "" {
		dpopToken(t, rec, key)
		t.Fatalf("DPoP-Nonce %q with the current nonce", rec.Header().Get("DPoP-Nonce"))
	}
}

func TestDPoPDiscovery(t *testing.T) {
	for _, tc := range []struct {
		e    *env
		want []string
	}{{newDPoPEnv(t, nil), []string{"ES256", "EdDSA"}}, {newEnv(t, envConfig{}), nil}} {
		var doc map[string]any
		if err := json.Unmarshal(tc.e.iss.discovery, &doc); err != nil {
			t.Fatal(err)
		}
		got, _ := doc["dpop_signing_alg_values_supported"].([]any)
		if len(got) != len(tc.want) {
			t.Fatalf("dpop_signing_alg_values_supported = %v, want %v", got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("dpop_signing_alg_values_supported = %v, want %v", got, tc.want)
			}
		}
	}
}
