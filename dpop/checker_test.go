package dpop

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// The proof of RFC 9449 §4.1 (Figure 2), its key's thumbprint (§6.1,
// Figure 9) and the ath example of §7.1 (Figure 12).
const (
	rfcProof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
	rfcJKT   = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	rfcIAT   = 1562262616
	rfcToken = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
	rfcATH   = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
)

func TestRFC9449Example(t *testing.T) {
	c := newChecker(t, Config{Algorithms: []string{"ES256"}})
	now := time.Unix(rfcIAT+5, 0)
	req := Request{Method: "POST", URI: CanonicalURI("https", "server.example.com", "/token"), JKT: rfcJKT}
	p, err := c.Check(context.Background(), rfcProof, req, now)
	if err != nil {
		t.Fatalf("RFC 9449 example proof refused: %v", err)
	}
	if p.JKT != rfcJKT || p.JTI != "-BwC3ESc6acc2lTc" || p.IssuedAt.Unix() != rfcIAT {
		t.Fatalf("proof = %+v", p)
	}
	if _, err := c.Check(context.Background(), rfcProof, req, now); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("the same proof twice: %v, want invalid (replay)", err)
	}
	if got := ATH(rfcToken); got != rfcATH {
		t.Fatalf("ATH(RFC 9449 token) = %s, want %s", got, rfcATH)
	}
	if !athMatches(rfcATH, rfcToken) || athMatches(rfcATH, rfcToken+"x") {
		t.Fatal("athMatches disagrees with the RFC example")
	}
}

func TestRFC9449ExampleOtherKeyOrRequest(t *testing.T) {
	now := time.Unix(rfcIAT, 0)
	base := Request{Method: "POST", URI: "https://server.example.com/token", JKT: rfcJKT}
	for name, req := range map[string]Request{
		"other jkt":    {Method: base.Method, URI: base.URI, JKT: strings.Repeat("A", 43)},
		"other method": {Method: "GET", URI: base.URI, JKT: rfcJKT},
		"other uri":    {Method: base.Method, URI: "https://server.example.com/other", JKT: rfcJKT},
		"with token":   {Method: base.Method, URI: base.URI, JKT: rfcJKT, AccessToken: rfcToken},
	} {
		c := newChecker(t, Config{})
		if _, err := c.Check(context.Background(), rfcProof, req, now); !errors.Is(err, ErrInvalidProof) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
}

func TestCanonicalHTU(t *testing.T) {
	want := "https://api.example.com/orders/1"
	for _, htu := range []string{
		"https://api.example.com/orders/1",
		"HTTPS://API.Example.COM/orders/1",
		"https://api.example.com:443/orders/1",
		"https://api.example.com./orders/1",
		"https://api.example.com/orders/1?page=2",
		"https://api.example.com/orders/1#top",
		"https://api.example.com/orders/./1",
		"https://api.example.com/orders/x/../1",
		"https://api.example.com/%6Frders/1",
	} {
		if got, ok := canonicalHTU(htu); !ok || got != want {
			t.Errorf("canonicalHTU(%q) = %q, %v; want %q", htu, got, ok, want)
		}
	}
	if got := CanonicalURI("HTTPS", "API.example.com:443", "/orders/1"); got != want {
		t.Errorf("CanonicalURI = %q", got)
	}
	if got := CanonicalURI("http", "h:80", ""); got != "http://h/" {
		t.Errorf("CanonicalURI(http, h:80) = %q", got)
	}
	if got := CanonicalURI("http", "h:8080", "/"); got != "http://h:8080/" {
		t.Errorf("CanonicalURI(http, h:8080) = %q", got)
	}
	for _, htu := range []string{
		"", "/orders/1", "api.example.com/orders", "ftp://api.example.com/", "https:///orders",
		"https://user@api.example.com/", "https://api.example.com/a\x00b", "https://api.example.com/%zz", "HTTP://.", "https://:443/",
	} {
		if got, ok := canonicalHTU(htu); ok {
			t.Errorf("canonicalHTU(%q) = %q, want refused", htu, got)
		}
	}
	if got, _ := canonicalHTU("http://api.example.com:443/"); got != "http://api.example.com:443/" {
		t.Errorf("https default port kept for http: %q", got)
	}
}

// proofCase builds one proof from a fresh, valid one.
type proofCase struct {
	name   string
	make   func(t *testing.T, f *fixture) string
	req    func(r *Request) // changes the request, when set
	nonces bool
	want   error
}

type fixture struct {
	key, other *testkit.Key
	now        time.Time
	method     string
	uri        string
	token      string
}

func (f *fixture) claims() map[string]any { return testkit.DPoPClaims(f.method, f.uri, f.token, f.now) }

func (f *fixture) sign(t *testing.T, change func(c, h map[string]any)) string {
	c, h := f.claims(), map[string]any{}
	if change != nil {
		change(c, h)
	}
	return testkit.DPoPProof(t, f.key, c, h)
}

func TestCheckRefuses(t *testing.T) {
	key := testkit.NewKey(t, "ES256", "")
	f := &fixture{key: key, other: testkit.NewKey(t, "ES256", ""), now: time.Unix(1_800_000_000, 0),
		method: "GET", uri: "https://api.example.com/orders", token: "header.payload.signature"}
	nonces, err := NewNonces([]byte(strings.Repeat("k", 32)), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cases := []proofCase{
		{name: "empty", make: func(*testing.T, *fixture) string { return "" }},
		{name: "not a JWS", make: func(*testing.T, *fixture) string { return "abc.def" }},
		{name: "four segments", make: func(t *testing.T, f *fixture) string { return f.sign(t, nil) + ".x" }},
		{name: "too large", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(c, _ map[string]any) { c["pad"] = strings.Repeat("x", MaxProofBytes) })
		}},
		{name: "typ JWT", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(_, h map[string]any) { h["typ"] = "JWT" })
		}},
		{name: "no typ", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(_, h map[string]any) { h["typ"] = nil })
		}},
		{name: "alg none", make: func(t *testing.T, f *fixture) string {
			return testkit.RawJWS(t, map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": f.key.PublicJWK(t)}, f.claims(), nil)
		}},
		{name: "alg HS256", make: func(t *testing.T, f *fixture) string {
			return testkit.RawJWS(t, map[string]any{"typ": "dpop+jwt", "alg": "HS256", "jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0"}}, f.claims(), []byte("0123456789abcdef0123456789abcdef"))
		}},
		{name: "alg not allowed", make: func(t *testing.T, f *fixture) string {
			k := testkit.NewKey(t, "ES384", "")
			return testkit.DPoPProof(t, k, f.claims(), nil)
		}, req: func(r *Request) { r.JKT = "" }},
		{name: "no jwk", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(_, h map[string]any) { h["jwk"] = nil })
		}},
		{name: "private key in jwk", make: func(t *testing.T, f *fixture) string {
			jk := f.key.PublicJWK(t)
			jk["d"] = "AQAB"
			return f.sign(t, func(_, h map[string]any) { h["jwk"] = jk })
		}},
		{name: "symmetric jwk", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(_, h map[string]any) { h["jwk"] = map[string]any{"kty": "oct", "k": "c2VjcmV0"} })
		}},
		{name: "jwk not on the curve", make: func(t *testing.T, f *fixture) string {
			jk := f.key.PublicJWK(t)
			jk["x"] = base64.RawURLEncoding.EncodeToString(make([]byte, 32))
			return f.sign(t, func(_, h map[string]any) { h["jwk"] = jk })
		}},
		{name: "crit", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(_, h map[string]any) { h["crit"] = []string{"x"}; h["x"] = 1 })
		}},
		{name: "key of another client", make: func(t *testing.T, f *fixture) string {
			return testkit.DPoPProof(t, f.other, f.claims(), nil)
		}},
		{name: "jwk of another key than the signer", make: func(t *testing.T, f *fixture) string {
			return testkit.DPoPProof(t, f.other, f.claims(), map[string]any{"jwk": f.key.PublicJWK(t)})
		}},
		{name: "bad signature", make: func(t *testing.T, f *fixture) string {
			p := f.sign(t, nil)
			return p[:len(p)-4] + "AAAA"
		}},
		{name: "padded signature", make: func(t *testing.T, f *fixture) string { return f.sign(t, nil) + "=" }},
		{name: "no jti", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(c, _ map[string]any) { delete(c, "jti") })
		}},
		{name: "long jti", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(c, _ map[string]any) { c["jti"] = strings.Repeat("j", maxJTIBytes+1) })
		}},
		{name: "other method", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(c, _ map[string]any) { c["htm"] = "POST" })
		}},
		{name: "no htm", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(c, _ map[string]any) { delete(c, "htm") })
		}},
		{name: "other path", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(c, _ map[string]any) { c["htu"] = "https://api.example.com/admin" })
		}},
		{name: "other host", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(c, _ map[string]any) { c["htu"] = "https://evil.example.com/orders" })
		}},
		{name: "other scheme", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(c, _ map[string]any) { c["htu"] = "http://api.example.com/orders" })
		}},
		{name: "relative htu", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(c, _ map[string]any) { c["htu"] = "/orders" })
		}},
		{name: "iat too old", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(c, _ map[string]any) { c["iat"] = f.now.Add(-2 * time.Minute).Unix() })
		}},
		{name: "iat in the future", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(c, _ map[string]any) { c["iat"] = f.now.Add(time.Minute).Unix() })
		}},
		{name: "iat a string", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(c, _ map[string]any) { c["iat"] = "now" })
		}},
		{name: "no iat", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(c, _ map[string]any) { delete(c, "iat") })
		}},
		{name: "no ath", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(c, _ map[string]any) { delete(c, "ath") })
		}},
		{name: "ath of another token", make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(c, _ map[string]any) { c["ath"] = ATH("another.token.value") })
		}},
		{name: "no nonce", nonces: true, want: ErrUseNonce, make: func(t *testing.T, f *fixture) string { return f.sign(t, nil) }},
		{name: "stale nonce", nonces: true, want: ErrUseNonce, make: func(t *testing.T, f *fixture) string {
			return f.sign(t, func(c, _ map[string]any) { c["nonce"] = nonces.Current(f.now.Add(-3 * time.Minute)) })
		}},
		{name: "forged nonce", nonces: true, want: ErrUseNonce, make: func(t *testing.T, f *fixture) string {
			other, _ := NewNonces([]byte(strings.Repeat("o", 32)), time.Minute)
			return f.sign(t, func(c, _ map[string]any) { c["nonce"] = other.Current(f.now) })
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Algorithms: []string{"ES256", "EdDSA"}, MaxAge: time.Minute, ClockSkew: 10 * time.Second}
			if tc.nonces {
				cfg.Nonces = nonces
			}
			c := newChecker(t, cfg)
			req := Request{Method: f.method, URI: f.uri, AccessToken: f.token, JKT: key.JKT(t)}
			if tc.req != nil {
				tc.req(&req)
			}
			_, err := c.Check(context.Background(), tc.make(t, f), req, f.now)
			want := tc.want
			if want == nil {
				want = ErrInvalidProof
			}
			if !errors.Is(err, want) {
				t.Fatalf("err = %v, want %v", err, want)
			}
		})
	}
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
}

func TestCheckAccepts(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	nonces, _ := NewNonces([]byte(strings.Repeat("k", 32)), time.Minute)
	for _, alg := range []string{"ES256", "ES384", "EdDSA", "RS256", "PS256"} {
		t.Run(alg, func(t *testing.T) {
			key := testkit.NewKey(t, alg, "")
			c := newChecker(t, Config{MaxAge: time.Minute, ClockSkew: 5 * time.Second, Nonces: nonces})
			req := Request{Method: "DELETE", URI: "https://api.example.com/orders/7", AccessToken: "a.b.c", JKT: key.JKT(t)}
			for i, iat := range []time.Time{now, now.Add(-time.Minute - 5*time.Second), now.Add(5 * time.Second)} {
				cl := testkit.DPoPClaims("DELETE", "https://API.example.com:443/orders/7?x=1", "a.b.c", iat)
				cl["nonce"] = nonces.Current(now.Add(-time.Minute))
				hdr := map[string]any{}
				if i == 1 {
					hdr["typ"] = "application/dpop+jwt"
				}
				p, err := c.Check(context.Background(), testkit.DPoPProof(t, key, cl, hdr), req, now)
				if err != nil {
					t.Fatalf("proof %d refused: %v", i, err)
				}
				if p.JKT != req.JKT {
					t.Fatalf("JKT = %s, want %s", p.JKT, req.JKT)
				}
			}
		})
	}
}

func TestCheckReplayUnavailableFailsClosed(t *testing.T) {
	key := testkit.NewKey(t, "EdDSA", "")
	now := time.Now()
	rc := newSeenOnce()
	rc.err = errDown
	c := newChecker(t, Config{Replay: rc})
	proof := testkit.DPoPProof(t, key, testkit.DPoPClaims("GET", "https://h/", "", now), nil)
	_, err := c.Check(context.Background(), proof, Request{Method: "GET", URI: "https://h/"}, now)
	if !errors.Is(err, ErrReplayUnavailable) || errors.Is(err, ErrInvalidProof) {
		t.Fatalf("err = %v, want replay unavailable", err)
	}
}

func TestReplayScopeAndExpiry(t *testing.T) {
	key := testkit.NewKey(t, "EdDSA", "")
	now := time.Unix(1_800_000_000, 0)
	rc := newSeenOnce()
	a := newChecker(t, Config{Provider: "a", Replay: rc, MaxAge: 30 * time.Second, ClockSkew: 10 * time.Second})
	proof := testkit.DPoPProof(t, key, testkit.DPoPClaims("GET", "https://h/", "", now), nil)
	if _, err := a.Check(context.Background(), proof, Request{Method: "GET", URI: "https://h/"}, now); err != nil {
		t.Fatal(err)
	}
	for k, until := range rc.seen {
		if !strings.HasPrefix(k, "dpop:a\x00") {
			t.Errorf("scope of %q", k)
		}
		if until.Before(now.Add(40 * time.Second)) {
			t.Errorf("jti kept until %v, before the proof stops being accepted", until)
		}
	}
}

func TestNonces(t *testing.T) {
	if _, err := NewNonces(make([]byte, 31), time.Minute); err == nil {
		t.Fatal("short key accepted")
	}
	n, _ := NewNonces([]byte(strings.Repeat("k", 32)), time.Minute)
	other, _ := NewNonces([]byte(strings.Repeat("k", 32)), time.Minute) // another replica, same key
	now := time.Unix(1_800_000_000, 0)
	s := n.Current(now)
	for _, d := range []time.Duration{0, 59 * time.Second, 119 * time.Second, -60 * time.Second} {
		if !other.Valid(s, now.Add(d)) {
			t.Errorf("nonce refused %v later", d)
		}
	}
	for _, d := range []time.Duration{3 * time.Minute, -3 * time.Minute} {
		if other.Valid(s, now.Add(d)) {
			t.Errorf("nonce accepted %v later", d)
		}
	}
	if n.Valid(s[:len(s)-1]+"A", now) && !strings.HasSuffix(s, "A") {
		t.Error("altered nonce accepted")
	}
	if n.Valid("", now) || n.Valid(strings.Repeat("A", len(s)), now) {
		t.Error("made-up nonce accepted")
	}
}

func TestHeaderCacheKeepsCopies(t *testing.T) {
	key := testkit.NewKey(t, "ES256", "")
	now := time.Now()
	c := newChecker(t, Config{})
	buf := []byte(testkit.DPoPProof(t, key, testkit.DPoPClaims("GET", "https://h/", "", now), nil))
	if _, err := c.Check(context.Background(), string(buf), Request{Method: "GET", URI: "https://h/", JKT: key.JKT(t)}, now); err != nil {
		t.Fatal(err)
	}
	for _, k := range c.keys.Keys() {
		if strings.Contains(k, "\x00") {
			t.Fatal("cache key shares the request buffer")
		}
	}
	// The cached header still checks the algorithm list of each checker.
	es := newChecker(t, Config{Algorithms: []string{"EdDSA"}})
	es.keys = c.keys
	proof := testkit.DPoPProof(t, key, testkit.DPoPClaims("GET", "https://h/", "", now), nil)
	if _, err := es.Check(context.Background(), proof, Request{Method: "GET", URI: "https://h/"}, now); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("ES256 proof with cached header under an EdDSA-only checker: %v", err)
	}
}

// TestNonceFreshness: a proof whose nonce has at most one window of its
// life left is accepted with the current nonce in NextNonce, for the
// answer's DPoP-Nonce (RFC 9449 §8.2); a current nonce, or one of the
// next window (a replica whose clock runs ahead), gets none.
func TestNonceFreshness(t *testing.T) {
	const window = time.Minute
	nonces, _ := NewNonces([]byte(strings.Repeat("k", 32)), window)
	key := testkit.NewKey(t, "EdDSA", "")
	start := time.Unix(1_800_000_000, 0).Truncate(window) // a window's first second
	tests := []struct {
		name     string
		issued   time.Time // when the proof's nonce was handed out
		now      time.Time
		wantNext bool
	}{
		{"handed out now", start.Add(10 * time.Second), start.Add(10 * time.Second), false},
		{"end of its window", start, start.Add(window - time.Second), false},
		{"first second of the next window", start.Add(window - time.Second), start.Add(window), true},
		{"last second it is accepted", start, start.Add(2*window - time.Second), true},
		{"of the next window", start.Add(window), start, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChecker(t, Config{Nonces: nonces})
			cl := testkit.DPoPClaims("GET", "https://h/", "", tt.now)
			cl["nonce"] = nonces.Current(tt.issued)
			p, err := c.Check(context.Background(), testkit.DPoPProof(t, key, cl, nil), Request{Method: "GET", URI: "https://h/"}, tt.now)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			want := ""
			if tt.wantNext {
				want = nonces.Current(tt.now)
			}
			if p.NextNonce != want {
				t.Fatalf("NextNonce %q, want %q", p.NextNonce, want)
			}
		})
	}
	t.Run("without nonces", func(t *testing.T) {
		c := newChecker(t, Config{})
		cl := testkit.DPoPClaims("GET", "https://h/", "", start)
		cl["nonce"] = nonces.Current(start.Add(-window))
		p, err := c.Check(context.Background(), testkit.DPoPProof(t, key, cl, nil), Request{Method: "GET", URI: "https://h/"}, start)
		if err != nil || p.NextNonce != "" {
			t.Fatalf("NextNonce %q, %v; want none", p.NextNonce, err)
		}
	})
}

// TestCurrentNonceIsKept: the nonce of a window is made once; handing it
// out again costs no allocation, and a later window gets its own.
func TestCurrentNonceIsKept(t *testing.T) {
	n, _ := NewNonces([]byte(strings.Repeat("k", 32)), time.Minute)
	other, _ := NewNonces([]byte(strings.Repeat("k", 32)), time.Minute)
	now := time.Unix(1_800_000_000, 0)
	s := n.Current(now)
	if allocs := testing.AllocsPerRun(100, func() { _ = n.Current(now) }); allocs != 0 {
		t.Fatalf("Current of the same window: %v allocs", allocs)
	}
	if later := n.Current(now.Add(time.Minute)); later == s || later != other.Current(now.Add(time.Minute)) {
		t.Fatalf("next window's nonce %q (this window's %q)", later, s)
	}
	// An earlier window asked again (a clock stepped back) is still its own.
	if again := n.Current(now); again != s {
		t.Fatalf("nonce of the first window changed: %q, want %q", again, s)
	}
}
