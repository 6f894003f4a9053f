package token_test

import (
	"context"
	"crypto"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/jwks"
	"github.com/jwt-authz/jwt-authz/token"
)

const iss = "https://idp.example.com/"

// keyMap is a fixed KeySource for tests; it counts lookups.
type keyMap struct {
	keys        map[string]*jwks.Key
	unavailable bool
	lookups     atomic.Int64
}

func (m *keyMap) Key(_ context.Context, kid string) (*jwks.Key, error) {
	m.lookups.Add(1)
	if m.unavailable {
		return nil, jwks.ErrUnavailable
	}
	k, ok := m.keys[kid]
	if !ok {
		return nil, jwks.ErrUnknownKey
	}
	return k, nil
}

func newKeyMap(keys ...*testkit.Key) *keyMap {
	m := &keyMap{keys: map[string]*jwks.Key{}}
	for _, k := range keys {
		m.keys[k.KID] = &jwks.Key{ID: k.KID, Public: k.Public()}
	}
	return m
}

func addKey(m *keyMap, kid, alg string, pub crypto.PublicKey) {
	m.keys[kid] = &jwks.Key{ID: kid, Algorithm: alg, Public: pub}
}

type fixture struct {
	v    *token.Verifier
	keys map[string]*testkit.Key
	src  *keyMap
	prov *token.Provider
}

var algs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

func newFixture(t testing.TB, mutate func(*token.Provider)) *fixture {
	t.Helper()
	f := &fixture{keys: map[string]*testkit.Key{}}
	var list []*testkit.Key
	for _, a := range algs {
		k := testkit.NewKey(t, a, "k-"+a)
		f.keys[a] = k
		list = append(list, k)
	}
	f.src = newKeyMap(list...)
	f.prov = &token.Provider{Name: "corp", Issuer: iss, Audiences: []string{"orders-api"}, ClockSkew: 30 * time.Second, RequireExp: true, Keys: f.src}
	if mutate != nil {
		mutate(f.prov)
	}
	v, err := token.NewVerifier([]*token.Provider{f.prov}, token.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	return f
}

func TestVerifyEveryAlgorithm(t *testing.T) {
	f := newFixture(t, nil)
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			raw := testkit.Sign(t, f.keys[alg], testkit.Claims(iss, "alice", "orders-api"), nil)
			res, err := f.v.Verify(t.Context(), raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.Claims.Subject != "alice" || res.Provider.Name != "corp" || res.Key == nil || res.Claims.Algorithm != alg {
				t.Fatalf("unexpected result %+v", res)
			}
		})
	}
}

func TestVerifyReasons(t *testing.T) {
	f := newFixture(t, func(p *token.Provider) { p.MaxLifetime = 2 * time.Hour; p.Typ = "" })
	es := f.keys["ES256"]
	now := time.Now().Unix()
	with := func(mut func(map[string]any)) map[string]any {
		c := testkit.Claims(iss, "alice", "orders-api")
		mut(c)
		return c
	}
	otherKey := testkit.NewKey(t, "ES256", "k-ES256")
	tests := []struct {
		name string
		raw  string
		want error
	}{
		{"oversize", strings.Repeat("a", token.DefaultMaxTokenBytes+1), token.ErrTooLarge},
		{"garbage", "garbage", token.ErrMalformed},
		{"two parts", "a.b", token.ErrMalformed},
		{"jwe five parts", "a.b.c.d.e", token.ErrMalformed},
		{"header not base64", "!!.e30.AAAA", token.ErrMalformed},
		{"header not json", "bm90anNvbg.e30.AAAA", token.ErrMalformed},
		{"payload not object", testkit.Sign(t, es, nil, nil), token.ErrMalformed},
		{"exp wrong type", testkit.Sign(t, es, with(func(c map[string]any) { c["exp"] = "tomorrow" }), nil), token.ErrMalformed},
		{"iss wrong type", testkit.Sign(t, es, with(func(c map[string]any) { c["iss"] = 7 }), nil), token.ErrMalformed},
		{"crit", testkit.Sign(t, es, testkit.Claims(iss, "a", "orders-api"), map[string]any{"crit": []string{"exp"}, "exp": 1}), token.ErrMalformed},
		{"alg none", testkit.Unsigned(t, testkit.Claims(iss, "a", "orders-api"))[0], token.ErrUnsupportedAlg},
		{"alg none junk sig", testkit.Unsigned(t, testkit.Claims(iss, "a", "orders-api"))[1], token.ErrUnsupportedAlg},
		{"HS256 with public key", testkit.HMACWithPublicKey(t, f.keys["RS256"].Public(), "k-RS256", testkit.Claims(iss, "a", "orders-api")), token.ErrUnsupportedAlg},
		{"unknown issuer", testkit.Sign(t, es, testkit.Claims("https://evil.example/", "a", "orders-api"), nil), token.ErrUnknownIssuer},
		{"unknown kid", testkit.Sign(t, es, testkit.Claims(iss, "a", "orders-api"), map[string]any{"kid": "nope"}), token.ErrUnknownKey},
		{"wrong key same kid", testkit.Sign(t, otherKey, testkit.Claims(iss, "a", "orders-api"), nil), token.ErrSignature},
		{"alg does not fit key", testkit.Sign(t, f.keys["ES384"], testkit.Claims(iss, "a", "orders-api"), map[string]any{"kid": "k-ES256", "alg": "ES384"}), token.ErrSignature},
		{"empty signature", testkit.Sign(t, es, testkit.Claims(iss, "a", "orders-api"), nil)[:strings.LastIndexByte(testkit.Sign(t, es, testkit.Claims(iss, "a", "orders-api"), nil), '.')+1], token.ErrSignature},
		{"zero ecdsa signature", testkit.ZeroECDSA(t, "k-ES256", testkit.Claims(iss, "a", "orders-api")), token.ErrSignature},
		{"tampered payload", tamper(testkit.Sign(t, es, testkit.Claims(iss, "a", "orders-api"), nil)), token.ErrSignature},
		{"expired", testkit.Sign(t, es, with(func(c map[string]any) { c["exp"] = now - 31; c["iat"] = now - 100 }), nil), token.ErrExpired},
		{"no exp", testkit.Sign(t, es, with(func(c map[string]any) { delete(c, "exp") }), nil), token.ErrExpired},
		{"nbf future", testkit.Sign(t, es, with(func(c map[string]any) { c["nbf"] = now + 120 }), nil), token.ErrNotYetValid},
		{"iat future", testkit.Sign(t, es, with(func(c map[string]any) { c["iat"] = now + 120 }), nil), token.ErrNotYetValid},
		{"lifetime", testkit.Sign(t, es, with(func(c map[string]any) { c["exp"] = now + 3*3600 }), nil), token.ErrLifetimeExceeded},
		{"audience", testkit.Sign(t, es, testkit.Claims(iss, "a", "billing"), nil), token.ErrAudience},
		{"no audience", testkit.Sign(t, es, testkit.Claims(iss, "a"), nil), token.ErrAudience},
		{"ok within skew", testkit.Sign(t, es, with(func(c map[string]any) { c["exp"] = now - 5; c["iat"] = now - 60 }), nil), nil},
		{"ok aud array", testkit.Sign(t, es, testkit.Claims(iss, "a", "x", "orders-api"), nil), nil},
		{"ok fractional dates", testkit.Sign(t, es, with(func(c map[string]any) { c["exp"] = float64(now) + 60.5 }), nil), nil},
		{"jku jwk x5u ignored", testkit.Sign(t, es, testkit.Claims(iss, "a", "orders-api"), map[string]any{"jku": "http://127.0.0.1:1/jwks", "x5u": "http://127.0.0.1:1/x5u", "jwk": map[string]any{"kty": "oct", "k": "AA"}}), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.v.Verify(t.Context(), tc.raw)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

// A token whose jwk header carries the attacker's own key must not verify
// with it.
func TestEmbeddedJWKNotTrusted(t *testing.T) {
	f := newFixture(t, nil)
	attacker := testkit.NewKey(t, "ES256", "k-ES256")
	raw := testkit.Sign(t, attacker, testkit.Claims(iss, "a", "orders-api"), map[string]any{"jwk": attacker.JWK(t)})
	if _, err := f.v.Verify(t.Context(), raw); !errors.Is(err, token.ErrSignature) {
		t.Fatalf("Verify = %v, want bad signature", err)
	}
}

func TestAlgorithmAllowList(t *testing.T) {
	f := newFixture(t, func(p *token.Provider) { p.Algorithms = []string{"ES256"} })
	raw := testkit.Sign(t, f.keys["RS256"], testkit.Claims(iss, "a", "orders-api"), nil)
	if _, err := f.v.Verify(t.Context(), raw); !errors.Is(err, token.ErrUnsupportedAlg) {
		t.Fatalf("Verify = %v, want unsupported alg", err)
	}
	if n := f.src.lookups.Load(); n != 0 {
		t.Fatalf("key looked up %d times for a disallowed alg", n)
	}
	if _, err := token.NewVerifier([]*token.Provider{{Name: "x", Issuer: "x", Algorithms: []string{"HS256"}, Keys: f.src}}, token.Options{}); !errors.Is(err, token.ErrUnsupportedAlg) {
		t.Fatalf("HS256 allow-list accepted: %v", err)
	}
}

func TestKeyAlgorithmPinned(t *testing.T) {
	f := newFixture(t, nil)
	k := f.keys["RS256"]
	addKey(f.src, "pinned", "PS256", k.Public())
	raw := testkit.Sign(t, k, testkit.Claims(iss, "a", "orders-api"), map[string]any{"kid": "pinned"})
	if _, err := f.v.Verify(t.Context(), raw); !errors.Is(err, token.ErrSignature) {
		t.Fatalf("Verify = %v, want bad signature for alg other than the key's", err)
	}
}

func TestKeysUnavailable(t *testing.T) {
	f := newFixture(t, nil)
	f.src.unavailable = true
	raw := testkit.Sign(t, f.keys["ES256"], testkit.Claims(iss, "a", "orders-api"), nil)
	if _, err := f.v.Verify(t.Context(), raw); !errors.Is(err, token.ErrKeysUnavailable) {
		t.Fatalf("Verify = %v, want keys unavailable", err)
	}
}

func TestTyp(t *testing.T) {
	f := newFixture(t, func(p *token.Provider) { p.Typ = "at+jwt" })
	k := f.keys["EdDSA"]
	c := testkit.Claims(iss, "a", "orders-api")
	for typ, want := range map[string]error{"at+jwt": nil, "application/AT+JWT": nil, "rt+jwt": token.ErrType, "JWT": token.ErrType} {
		raw := testkit.Sign(t, k, c, map[string]any{"typ": typ})
		if _, err := f.v.Verify(t.Context(), raw); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("typ %q: Verify = %v, want %v", typ, err, want)
		}
	}
}

func TestLogoutTokenIsNoAccessToken(t *testing.T) {
	f := newFixture(t, nil)
	k := f.keys["ES256"]
	c := testkit.Claims(iss, "a", "orders-api")
	for _, typ := range []string{"logout+jwt", "application/logout+jwt", "Logout+JWT"} {
		raw := testkit.Sign(t, k, c, map[string]any{"typ": typ})
		if _, err := f.v.Verify(t.Context(), raw); !errors.Is(err, token.ErrType) {
			t.Errorf("typ %q: Verify = %v, want ErrType", typ, err)
		}
		// The signature alone still verifies: that is how the
		// back-channel logout endpoint reads it.
		if _, err := f.v.VerifySignature(t.Context(), raw); err != nil {
			t.Errorf("typ %q: VerifySignature = %v", typ, err)
		}
	}
}

func TestVerifySignatureIgnoresExpiry(t *testing.T) {
	f := newFixture(t, nil)
	c := testkit.Claims(iss, "a", "orders-api")
	c["exp"] = time.Now().Add(-time.Hour).Unix()
	raw := testkit.Sign(t, f.keys["ES256"], c, nil)
	res, err := f.v.VerifySignature(t.Context(), raw)
	if err != nil || res.Claims.ID == "" {
		t.Fatalf("VerifySignature = %v", err)
	}
}

func TestScopes(t *testing.T) {
	f := newFixture(t, nil)
	tests := map[string]struct {
		claims map[string]any
		want   []string
		ok     bool
	}{
		"scope string":  {map[string]any{"scope": "read write"}, []string{"write", "read"}, true},
		"scope missing": {map[string]any{"scope": "read"}, []string{"write"}, false},
		"scp array":     {map[string]any{"scp": []string{"read", "admin"}}, []string{"admin"}, true},
		"prefix only":   {map[string]any{"scope": "adminx"}, []string{"admin"}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := testkit.Claims(iss, "a", "orders-api")
			for k, v := range tc.claims {
				c[k] = v
			}
			res, err := f.v.Verify(t.Context(), testkit.Sign(t, f.keys["ES256"], c, nil))
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Claims.HasScopes(tc.want); got != tc.ok {
				t.Fatalf("HasScopes(%v) on %q = %v", tc.want, res.Claims.Scope, got)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	m := map[string]any{"realm_access": map[string]any{"roles": []any{"a", "b"}}, "a.b": "flat"}
	if v, ok := token.Lookup(m, "realm_access.roles"); !ok || len(v.([]any)) != 2 {
		t.Fatalf("nested lookup = %v %v", v, ok)
	}
	if v, ok := token.Lookup(m, "a.b"); !ok || v != "flat" {
		t.Fatalf("flat dotted lookup = %v %v", v, ok)
	}
	if _, ok := token.Lookup(m, "realm_access.x"); ok {
		t.Fatal("missing path found")
	}
}

func tamper(raw string) string {
	parts := strings.Split(raw, ".")
	c := testkit.Claims(iss, "mallory", "orders-api")
	b := []byte(`{"iss":"` + iss + `","sub":"mallory","aud":"orders-api","exp":` + itoa(c["exp"].(int64)) + `}`)
	parts[1] = b64(b)
	return strings.Join(parts, ".")
}

// peekingKeys is a keyMap that can say whether a kid could be found.
type peekingKeys struct{ *keyMap }

func (p peekingKeys) MayHave(kid string) bool { _, ok := p.keys[kid]; return ok }

// With key sources that can peek, an unknown kid is rejected before the
// payload is decoded; without, the payload is decoded first.
func TestUnknownKidRejectedBeforePayload(t *testing.T) {
	k := testkit.NewKey(t, "ES256", "k1")
	// A valid header with an unknown kid, and a payload that is not JSON.
	raw := b64([]byte(`{"alg":"ES256","kid":"nope"}`)) + "." + b64([]byte("not json")) + ".AAAA"
	tests := map[string]struct {
		keys token.KeySource
		want error
	}{
		"peeking source":     {peekingKeys{newKeyMap(k)}, token.ErrUnknownKey},
		"non-peeking source": {newKeyMap(k), token.ErrMalformed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v, err := token.NewVerifier([]*token.Provider{{Name: "corp", Issuer: iss, Keys: tc.keys}}, token.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(t.Context(), raw); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	// A known kid still verifies through the peeking path.
	v, _ := token.NewVerifier([]*token.Provider{{Name: "corp", Issuer: iss, Keys: peekingKeys{newKeyMap(k)}}}, token.Options{})
	if _, err := v.Verify(t.Context(), testkit.Sign(t, k, testkit.Claims(iss, "a"), nil)); err != nil {
		t.Fatalf("known kid: %v", err)
	}
}

// TestHeaderURLsNeverFetched serves a key set at the jku/x5u URLs of a
// token and proves that verification never requests them.
func TestHeaderURLsNeverFetched(t *testing.T) {
	f := newFixture(t, nil)
	attacker := testkit.NewKey(t, "ES256", "attacker")
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write(testkit.JWKS(t, attacker))
	}))
	defer srv.Close()
	raw := testkit.Sign(t, attacker, testkit.Claims(iss, "a", "orders-api"), map[string]any{"jku": srv.URL, "x5u": srv.URL, "jwk": attacker.JWK(t)})
	if _, err := f.v.Verify(t.Context(), raw); !errors.Is(err, token.ErrUnknownKey) {
		t.Fatalf("Verify = %v, want unknown kid", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the jku/x5u URL was requested %d times", n)
	}
}

func TestPrecheck(t *testing.T) {
	k := testkit.NewKey(t, "ES256", "k1")
	v, err := token.NewVerifier([]*token.Provider{{Name: "corp", Issuer: iss, Keys: peekingKeys{newKeyMap(k)}}}, token.Options{})
	if err != nil {
		t.Fatal(err)
	}
	valid := testkit.Sign(t, k, testkit.Claims(iss, "a"), nil)
	unknown := testkit.Sign(t, k, testkit.Claims(iss, "a"), map[string]any{"kid": "nope"})
	tests := map[string]struct {
		raw  string
		want error
	}{
		"valid":       {valid, nil},
		"oversize":    {strings.Repeat("a", token.DefaultMaxTokenBytes+1), token.ErrTooLarge},
		"garbage":     {"garbage", token.ErrMalformed},
		"alg none":    {testkit.Unsigned(t, testkit.Claims(iss, "a"))[0], token.ErrUnsupportedAlg},
		"unknown kid": {unknown, token.ErrUnknownKey},
		// Precheck never looks at the payload: a bad signature passes it.
		"bad signature": {valid[:len(valid)-4] + "AAAA", nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if err := v.Precheck(tc.raw); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Precheck = %v, want %v", err, tc.want)
			}
		})
	}
	if testkit.RaceEnabled {
		return // sync.Pool drops items under the race detector
	}
	if n := testing.AllocsPerRun(100, func() { _ = v.Precheck(unknown) }); n != 0 {
		t.Fatalf("Precheck of an unknown kid allocates %v times", n)
	}
}

// TestNewVerifierOverProvidersInUse builds verifiers over a provider while
// another verifier uses it, as a reload does; under -race it shows that
// building leaves the shared provider alone.
func TestNewVerifierOverProvidersInUse(t *testing.T) {
	f := newFixture(t, nil)
	k := f.keys["ES256"]
	tok := testkit.Sign(t, k, testkit.Claims(iss, "alice", "orders-api"), nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			if _, err := token.NewVerifier([]*token.Provider{f.prov}, token.Options{}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		if _, err := f.v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
}
