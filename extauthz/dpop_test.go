package extauthz

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	goredis "github.com/redis/go-redis/v9"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/jwt-authz/jwt-authz/dpop"
	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/jwks"
	"github.com/jwt-authz/jwt-authz/replay"
	"github.com/jwt-authz/jwt-authz/token"
)

// The issuers of the DPoP tests' two providers: corp accepts DPoP-bound
// and bearer tokens; strict requires DPoP-bound tokens and server nonces.
const (
	corpIss   = "https://corp.example.com/"
	strictIss = "https://strict.example.com/"
	dpopHost  = "api.example.com"
	dpopPath  = "/orders/7"
	dpopURI   = "https://" + dpopHost + dpopPath
)

// dpopReplica is one jwt-authz replica: its own Server, policy and proof
// checkers, reached over real gRPC and real HTTP, with the replay cache in
// a Redis every replica shares.
type dpopReplica struct {
	srv    *Server
	m      *Metrics
	client authv3.AuthorizationClient
	http   *httptest.Server
}

type dpopFixture struct {
	t        *testing.T
	signer   *testkit.Key // signs the access tokens
	client   *testkit.Key // the client's DPoP key (ES256)
	edClient *testkit.Key // another client's key (EdDSA)
	nonces   *dpop.Nonces
	a, b     *dpopReplica
	clock    func() time.Time // the replicas' clock; nil: the real one
}

func newDPoPFixture(t *testing.T) *dpopFixture {
	t.Helper()
	return newDPoPFixtureClock(t, nil)
}

// newDPoPFixtureClock is newDPoPFixture with replicas whose clock is
// clock.
func newDPoPFixtureClock(t *testing.T, clock func() time.Time) *dpopFixture {
	t.Helper()
	addr := redisserver.Shared(t)
	var pfx [6]byte
	_, _ = rand.Read(pfx[:])
	prefix := replay.DefaultKeyPrefix + "test-" + hex.EncodeToString(pfx[:]) + ":"
	nonces, err := dpop.NewNonces([]byte(strings.Repeat("n", 32)), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	f := &dpopFixture{
		t: t, signer: testkit.NewKey(t, "ES256", "k1"),
		client: testkit.NewKey(t, "ES256", ""), edClient: testkit.NewKey(t, "EdDSA", ""), nonces: nonces, clock: clock,
	}
	f.a = f.replica(addr, prefix)
	f.b = f.replica(addr, prefix)
	return f
}

func (f *dpopFixture) replica(redisAddr, prefix string) *dpopReplica {
	t := f.t
	rc := goredis.NewClient(&goredis.Options{Addr: redisAddr})
	t.Cleanup(func() { _ = rc.Close() })
	cache := replay.NewRedis(rc, prefix)
	src := &keySource{keys: map[string]*jwks.Key{"k1": {ID: "k1", Public: f.signer.Public()}}}
	checker := func(name string, nonces *dpop.Nonces) *dpop.Checker {
		c, err := dpop.New(dpop.Config{Provider: name, Algorithms: []string{"ES256", "EdDSA"}, MaxAge: time.Minute,
			ClockSkew: 5 * time.Second, Replay: cache, Nonces: nonces})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tp := func(name, issuer string) *token.Provider {
		return &token.Provider{Name: name, Issuer: issuer, Algorithms: []string{"ES256"}, RequireExp: true, Keys: src}
	}
	corp := &Provider{Token: tp("corp", corpIss), KeepAuthorization: true, DPoP: checker("corp", nil)}
	strict := &Provider{Token: tp("strict", strictIss), KeepAuthorization: true, DPoP: checker("strict", f.nonces), DPoPRequired: true}
	v, err := token.NewVerifier([]*token.Provider{corp.Token, strict.Token}, token.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(prometheus.NewRegistry())
	pol, err := NewPolicy(PolicyOptions{Verifier: v, Providers: []*Provider{corp, strict}}, m)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(pol, Options{CacheEntries: 1000, Metrics: m, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(ServerOption())
	srv.Register(g)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	hs := httptest.NewServer(srv.ForwardAuthHandler())
	t.Cleanup(hs.Close)
	return &dpopReplica{srv: srv, m: m, client: authv3.NewAuthorizationClient(conn), http: hs}
}

// accessToken is a token of issuer, bound to key when key is not nil.
func (f *dpopFixture) accessToken(issuer string, key *testkit.Key, mut func(map[string]any)) string {
	c := testkit.Claims(issuer, "alice")
	if key != nil {
		c["cnf"] = map[string]any{"jkt": key.JKT(f.t)}
	}
	if mut != nil {
		mut(c)
	}
	return testkit.Sign(f.t, f.signer, c, nil)
}

// proof is a fresh proof by key for GET dpopURI presenting tok, changed
// by mut (claims) and hdr (header members).
func (f *dpopFixture) proof(key *testkit.Key, tok string, mut func(map[string]any), hdr map[string]any) string {
	c := testkit.DPoPClaims("GET", dpopURI, tok, time.Now())
	if mut != nil {
		mut(c)
	}
	return testkit.DPoPProof(f.t, key, c, hdr)
}

// dpopCall is one request to authorize: its Authorization header and DPoP
// headers (each sent as a header of its own).
type dpopCall struct {
	auth   string
	proofs []string
}

// dpopAnswer is what a transport answered.
type dpopAnswer struct {
	status int
	reason string
	www    string // WWW-Authenticate
	nonce  string // DPoP-Nonce
}

// transport sends a call to a replica.
type transport struct {
	name string
	send func(t *testing.T, r *dpopReplica, c dpopCall) dpopAnswer
}

var transports = []transport{
	{"grpc", sendGRPC},
	{"authz", sendForward(ForwardAuthPrefix)},
	{"x-forwarded", sendForward(ForwardXForwardedPath)},
	{"x-original", sendForward(ForwardXOriginalPath)},
}

// sendGRPC sends a Check as Envoy does: repeated headers joined with a
// comma in the headers map.
func sendGRPC(t *testing.T, r *dpopReplica, c dpopCall) dpopAnswer {
	h := map[string]string{}
	if c.auth != "" {
		h["authorization"] = c.auth
	}
	if len(c.proofs) > 0 {
		h["dpop"] = strings.Join(c.proofs, ",")
	}
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: dpopPath + "?page=2", Host: dpopHost, Scheme: "https", Headers: h},
	}}}
	resp, err := r.client.Check(t.Context(), req)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if resp.GetStatus().GetCode() == int32(code.Code_OK) {
		return dpopAnswer{status: 200, reason: "ok", nonce: headerOf(resp.GetOkResponse().GetResponseHeadersToAdd(), "dpop-nonce")}
	}
	d := resp.GetDeniedResponse()
	return dpopAnswer{
		status: int(d.GetStatus().GetCode()), reason: reasonOf(resp),
		www: headerOf(d.GetHeaders(), "www-authenticate"), nonce: headerOf(d.GetHeaders(), "dpop-nonce"),
	}
}

// sendForward sends a forward-auth request to endpoint as the proxy of
// that endpoint's header family does.
func sendForward(endpoint string) func(t *testing.T, r *dpopReplica, c dpopCall) dpopAnswer {
	return func(t *testing.T, r *dpopReplica, c dpopCall) dpopAnswer {
		target := r.http.URL + endpoint
		if endpoint == ForwardAuthPrefix {
			target += dpopPath + "?page=2"
		}
		req, err := http.NewRequestWithContext(t.Context(), "GET", target, nil)
		if err != nil {
			t.Fatal(err)
		}
		switch endpoint {
		case ForwardAuthPrefix:
			req.Host = dpopHost
			req.Header.Set("X-Forwarded-Proto", "https")
		case ForwardXForwardedPath:
			req.Header.Set("X-Forwarded-Method", "GET")
			req.Header.Set("X-Forwarded-Uri", dpopPath+"?page=2")
			req.Header.Set("X-Forwarded-Host", dpopHost)
			req.Header.Set("X-Forwarded-Proto", "https")
		case ForwardXOriginalPath:
			req.Header.Set("X-Original-Method", "GET")
			req.Header.Set("X-Original-Uri", dpopPath+"?page=2")
			req.Header.Set("X-Original-Host", dpopHost)
			req.Header.Set("X-Original-Proto", "https")
		}
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		for _, p := range c.proofs {
			req.Header.Add("DPoP", p)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		a := dpopAnswer{status: resp.StatusCode, reason: "ok", www: resp.Header.Get("WWW-Authenticate"), nonce: resp.Header.Get("DPoP-Nonce")}
		if resp.StatusCode != 200 {
			var e struct {
				Desc string `json:"error_description"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("denial body %q: %v", body, err)
			}
			a.reason = e.Desc
		}
		return a
	}
}

// dpopCase is one request and the answer it must get. run returns the
// answer of the case's last request (a replay sends twice).
type dpopCase struct {
	name   string
	run    func(f *dpopFixture, tr transport) dpopAnswer
	status int
	reason string
	err    string // the error of the DPoP challenge; "" when none is expected
}

// once sends a call to replica a.
func once(mk func(f *dpopFixture) dpopCall) func(f *dpopFixture, tr transport) dpopAnswer {
	return func(f *dpopFixture, tr transport) dpopAnswer { return tr.send(f.t, f.a, mk(f)) }
}

// boundCall is a call with the client's bound corp token and one proof
// made by mk.
func boundCall(mk func(f *dpopFixture, tok string) string) func(f *dpopFixture) dpopCall {
	return func(f *dpopFixture) dpopCall {
		tok := f.accessToken(corpIss, f.client, nil)
		return dpopCall{auth: "DPoP " + tok, proofs: []string{mk(f, tok)}}
	}
}

// withClaims is a bound call whose proof's claims are changed by mut.
func withClaims(mut func(c map[string]any)) func(f *dpopFixture) dpopCall {
	return boundCall(func(f *dpopFixture, tok string) string { return f.proof(f.client, tok, mut, nil) })
}

// withHeader is a bound call whose proof's header is changed.
func withHeader(hdr func(f *dpopFixture) map[string]any) func(f *dpopFixture) dpopCall {
	return boundCall(func(f *dpopFixture, tok string) string { return f.proof(f.client, tok, nil, hdr(f)) })
}

func dpopCases() []dpopCase {
	const bad, tokErr = "invalid_dpop_proof", "invalid_token"
	refused := func(name string, run func(f *dpopFixture, tr transport) dpopAnswer) dpopCase {
		return dpopCase{name: name, run: run, status: 401, reason: bad, err: bad}
	}
	ago := func(d time.Duration) int64 { return time.Now().Add(-d).Unix() }
	return []dpopCase{
		{name: "valid proof", run: once(withClaims(nil)), status: 200, reason: "ok"},
		{name: "valid proof, htu with query and fragment", run: once(withClaims(func(c map[string]any) { c["htu"] = dpopURI + "?page=2#x" })), status: 200, reason: "ok"},
		{name: "valid proof, htu with default port and upper-case host", run: once(withClaims(func(c map[string]any) { c["htu"] = "https://API.Example.com:443" + dpopPath })), status: 200, reason: "ok"},
		{name: "valid EdDSA proof", run: once(func(f *dpopFixture) dpopCall {
			tok := f.accessToken(corpIss, f.edClient, nil)
			return dpopCall{auth: "dpop " + tok, proofs: []string{f.proof(f.edClient, tok, nil, nil)}}
		}), status: 200, reason: "ok"},
		{name: "unbound token as Bearer", run: once(func(f *dpopFixture) dpopCall {
			return dpopCall{auth: "Bearer " + f.accessToken(corpIss, nil, nil)}
		}), status: 200, reason: "ok"},

		refused("no DPoP header", once(func(f *dpopFixture) dpopCall {
			return dpopCall{auth: "DPoP " + f.accessToken(corpIss, f.client, nil)}
		})),
		refused("two DPoP headers", once(func(f *dpopFixture) dpopCall {
			tok := f.accessToken(corpIss, f.client, nil)
			return dpopCall{auth: "DPoP " + tok, proofs: []string{f.proof(f.client, tok, nil, nil), f.proof(f.client, tok, nil, nil)}}
		})),
		refused("empty DPoP header", once(func(f *dpopFixture) dpopCall {
			return dpopCall{auth: "DPoP " + f.accessToken(corpIss, f.client, nil), proofs: []string{""}}
		})),
		refused("bound token as Bearer", once(func(f *dpopFixture) dpopCall {
			tok := f.accessToken(corpIss, f.client, nil)
			return dpopCall{auth: "Bearer " + tok, proofs: []string{f.proof(f.client, tok, nil, nil)}}
		})),
		refused("unbound token with the DPoP scheme", once(func(f *dpopFixture) dpopCall {
			tok := f.accessToken(corpIss, nil, nil)
			return dpopCall{auth: "DPoP " + tok, proofs: []string{f.proof(f.client, tok, nil, nil)}}
		})),
		refused("jkt not a string", once(func(f *dpopFixture) dpopCall {
			tok := f.accessToken(corpIss, nil, func(c map[string]any) { c["cnf"] = map[string]any{"jkt": 7} })
			return dpopCall{auth: "DPoP " + tok, proofs: []string{f.proof(f.client, tok, nil, nil)}}
		})),
		refused("typ JWT", once(withHeader(func(*dpopFixture) map[string]any { return map[string]any{"typ": "JWT"} }))),
		refused("no typ", once(withHeader(func(*dpopFixture) map[string]any { return map[string]any{"typ": nil} }))),
		refused("no jwk", once(withHeader(func(*dpopFixture) map[string]any { return map[string]any{"jwk": nil} }))),
		refused("private key in jwk", once(withHeader(func(f *dpopFixture) map[string]any {
			jk := f.client.PublicJWK(f.t)
			d := f.client.Private.(interface{ Bytes() ([]byte, error) })
			b, err := d.Bytes()
			if err != nil {
				f.t.Fatal(err)
			}
			jk["d"] = base64.RawURLEncoding.EncodeToString(b)
			return map[string]any{"jwk": jk}
		}))),
		refused("alg none", once(func(f *dpopFixture) dpopCall {
			tok := f.accessToken(corpIss, f.client, nil)
			p := testkit.RawJWS(f.t, map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": f.client.PublicJWK(f.t)}, testkit.DPoPClaims("GET", dpopURI, tok, time.Now()), nil)
			return dpopCall{auth: "DPoP " + tok, proofs: []string{p}}
		})),
		refused("alg HS256", once(func(f *dpopFixture) dpopCall {
			tok := f.accessToken(corpIss, f.client, nil)
			p := testkit.RawJWS(f.t, map[string]any{"typ": "dpop+jwt", "alg": "HS256", "jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0"}},
				testkit.DPoPClaims("GET", dpopURI, tok, time.Now()), []byte(strings.Repeat("s", 32)))
			return dpopCall{auth: "DPoP " + tok, proofs: []string{p}}
		})),
		refused("alg not among the provider's", once(func(f *dpopFixture) dpopCall {
			k := testkit.NewKey(f.t, "ES384", "")
			tok := f.accessToken(corpIss, k, nil)
			return dpopCall{auth: "DPoP " + tok, proofs: []string{f.proof(k, tok, nil, nil)}}
		})),
		refused("proof by another key", once(func(f *dpopFixture) dpopCall {
			tok := f.accessToken(corpIss, f.client, nil)
			return dpopCall{auth: "DPoP " + tok, proofs: []string{f.proof(f.edClient, tok, nil, nil)}}
		})),
		refused("jwk of the bound key, signed by another", once(func(f *dpopFixture) dpopCall {
			tok := f.accessToken(corpIss, f.client, nil)
			other := testkit.NewKey(f.t, "ES256", "")
			return dpopCall{auth: "DPoP " + tok, proofs: []string{f.proof(other, tok, nil, map[string]any{"jwk": f.client.PublicJWK(f.t)})}}
		})),
		refused("signature altered", once(boundCall(func(f *dpopFixture, tok string) string {
			p := f.proof(f.client, tok, nil, nil)
			i := strings.LastIndexByte(p, '.')
			sig, _ := base64.RawURLEncoding.DecodeString(p[i+1:])
			sig[5] ^= 1
			return p[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
		}))),
		refused("no jti", once(withClaims(func(c map[string]any) { delete(c, "jti") }))),
		refused("other method", once(withClaims(func(c map[string]any) { c["htm"] = "POST" }))),
		refused("method in lower case", once(withClaims(func(c map[string]any) { c["htm"] = "get" }))),
		refused("other path", once(withClaims(func(c map[string]any) { c["htu"] = "https://" + dpopHost + "/orders/8" }))),
		refused("other host", once(withClaims(func(c map[string]any) { c["htu"] = "https://evil.example.com" + dpopPath }))),
		refused("other scheme", once(withClaims(func(c map[string]any) { c["htu"] = "http://" + dpopHost + dpopPath }))),
		refused("other port", once(withClaims(func(c map[string]any) { c["htu"] = "https://" + dpopHost + ":8443" + dpopPath }))),
		refused("iat expired", once(withClaims(func(c map[string]any) { c["iat"] = ago(5 * time.Minute) }))),
		refused("iat in the future", once(withClaims(func(c map[string]any) { c["iat"] = ago(-5 * time.Minute) }))),
		refused("no iat", once(withClaims(func(c map[string]any) { delete(c, "iat") }))),
		refused("no ath", once(withClaims(func(c map[string]any) { delete(c, "ath") }))),
		refused("ath of another token", once(withClaims(func(c map[string]any) { c["ath"] = dpop.ATH("another.access.token") }))),
		refused("proof for another token", once(func(f *dpopFixture) dpopCall {
			tok := f.accessToken(corpIss, f.client, nil)
			other := f.accessToken(corpIss, f.client, nil)
			return dpopCall{auth: "DPoP " + tok, proofs: []string{f.proof(f.client, other, nil, nil)}}
		})),
		refused("replayed at the same replica", func(f *dpopFixture, tr transport) dpopAnswer {
			c := withClaims(nil)(f)
			if a := tr.send(f.t, f.a, c); a.status != 200 {
				f.t.Fatalf("first use refused: %+v", a)
			}
			return tr.send(f.t, f.a, c)
		}),
		refused("replayed at another replica", func(f *dpopFixture, tr transport) dpopAnswer {
			c := withClaims(nil)(f)
			if a := tr.send(f.t, f.a, c); a.status != 200 {
				f.t.Fatalf("first use refused: %+v", a)
			}
			return tr.send(f.t, f.b, c)
		}),
		refused("required: unbound Bearer token", once(func(f *dpopFixture) dpopCall {
			return dpopCall{auth: "Bearer " + f.accessToken(strictIss, nil, nil)}
		})),
		{name: "required: no nonce", status: 401, reason: bad, err: "use_dpop_nonce", run: once(func(f *dpopFixture) dpopCall {
			tok := f.accessToken(strictIss, f.client, nil)
			return dpopCall{auth: "DPoP " + tok, proofs: []string{f.proof(f.client, tok, nil, nil)}}
		})},
		{name: "required: forged nonce", status: 401, reason: bad, err: "use_dpop_nonce", run: once(func(f *dpopFixture) dpopCall {
			tok := f.accessToken(strictIss, f.client, nil)
			return dpopCall{auth: "DPoP " + tok, proofs: []string{f.proof(f.client, tok, func(c map[string]any) { c["nonce"] = strings.Repeat("A", 32) }, nil)}}
		})},
		{name: "required: the nonce of the answer, at another replica", status: 200, reason: "ok", run: func(f *dpopFixture, tr transport) dpopAnswer {
			tok := f.accessToken(strictIss, f.client, nil)
			first := tr.send(f.t, f.a, dpopCall{auth: "DPoP " + tok, proofs: []string{f.proof(f.client, tok, nil, nil)}})
			if first.nonce == "" {
				f.t.Fatalf("no DPoP-Nonce in %+v", first)
			}
			p := f.proof(f.client, tok, func(c map[string]any) { c["nonce"] = first.nonce }, nil)
			return tr.send(f.t, f.b, dpopCall{auth: "DPoP " + tok, proofs: []string{p}})
		}},
		{name: "expired token with the DPoP scheme", status: 401, reason: "expired", err: tokErr, run: once(func(f *dpopFixture) dpopCall {
			tok := f.accessToken(corpIss, f.client, func(c map[string]any) { c["exp"] = ago(time.Hour) })
			return dpopCall{auth: "DPoP " + tok, proofs: []string{f.proof(f.client, tok, nil, nil)}}
		})},
		{name: "forged token with the DPoP scheme", status: 401, reason: "bad_signature", err: tokErr, run: once(func(f *dpopFixture) dpopCall {
			tok := f.accessToken(corpIss, f.client, nil)
			tok = tok[:len(tok)-6] + "AAAAAA"
			return dpopCall{auth: "DPoP " + tok, proofs: []string{f.proof(f.client, tok, nil, nil)}}
		})},
	}
}

// TestDPoPProofs runs every case over real gRPC and over each forward-auth
// endpoint over real HTTP, with two replicas sharing Redis for replays.
func TestDPoPProofs(t *testing.T) {
	f := newDPoPFixture(t)
	cases := dpopCases()
	refusals := 0
	for _, c := range cases {
		if c.status != 200 {
			refusals++
		}
	}
	if refusals < 25 {
		t.Fatalf("%d refused proofs in the table, want at least 25", refusals)
	}
	for _, tr := range transports {
		for _, c := range cases {
			t.Run(tr.name+"/"+c.name, func(t *testing.T) {
				f.t = t
				a := c.run(f, tr)
				if a.status != c.status || a.reason != c.reason {
					t.Fatalf("answer %+v, want status %d reason %s", a, c.status, c.reason)
				}
				if c.err == "" {
					return
				}
				want := `DPoP error="` + c.err + `", algs="ES256 EdDSA"`
				if !strings.HasPrefix(a.www, want) {
					t.Fatalf("WWW-Authenticate %q, want it to start with %q", a.www, want)
				}
				if (c.err == "use_dpop_nonce") != (a.nonce != "") {
					t.Fatalf("DPoP-Nonce %q with error %s", a.nonce, c.err)
				}
			})
		}
	}
	if n := testutil.ToFloat64(f.a.m.checks.WithLabelValues("corp", "denied", "invalid_dpop_proof")); n == 0 {
		t.Fatal("invalid_dpop_proof denials not counted")
	}
}

// TestDPoPCachedTokenNeedsFreshProof: a token verified once and cached,
// in the cache and in the hot tier, still needs a new proof on every
// request.
func TestDPoPCachedTokenNeedsFreshProof(t *testing.T) {
	f := newDPoPFixture(t)
	tok := f.accessToken(corpIss, f.client, nil)
	for i := range 40 {
		a := sendGRPC(t, f.a, dpopCall{auth: "DPoP " + tok, proofs: []string{f.proof(f.client, tok, nil, nil)}})
		if a.status != 200 {
			t.Fatalf("request %d: %+v", i, a)
		}
		for _, c := range []dpopCall{{auth: "DPoP " + tok}, {auth: "Bearer " + tok}, {auth: "DPoP " + tok, proofs: []string{f.proof(f.edClient, tok, nil, nil)}}} {
			if a := sendGRPC(t, f.a, c); a.status != 401 || a.reason != "invalid_dpop_proof" {
				t.Fatalf("request %d: cached token without its proof: %+v", i, a)
			}
		}
	}
	if f.a.srv.CacheLen() == 0 {
		t.Fatal("the token was never cached")
	}
}

// TestDPoPReplayStoreDownFailsClosed: a replay cache that cannot answer
// refuses the proof with a 503, never allows it.
func TestDPoPReplayStoreDownFailsClosed(t *testing.T) {
	signer, client := testkit.NewKey(t, "ES256", "k1"), testkit.NewKey(t, "ES256", "")
	rc := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer func() { _ = rc.Close() }()
	chk, err := dpop.New(dpop.Config{Provider: "corp", Replay: replay.NewRedis(rc, "x:")})
	if err != nil {
		t.Fatal(err)
	}
	src := &keySource{keys: map[string]*jwks.Key{"k1": {ID: "k1", Public: signer.Public()}}}
	p := &Provider{Token: &token.Provider{Name: "corp", Issuer: corpIss, RequireExp: true, Keys: src}, DPoP: chk}
	v, _ := token.NewVerifier([]*token.Provider{p.Token}, token.Options{})
	m := NewMetrics(prometheus.NewRegistry())
	pol, err := NewPolicy(PolicyOptions{Verifier: v, Providers: []*Provider{p}}, m)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := NewServer(pol, Options{Metrics: m})
	c := testkit.Claims(corpIss, "alice")
	c["cnf"] = map[string]any{"jkt": client.JKT(t)}
	tok := testkit.Sign(t, signer, c, nil)
	req := checkReq("GET", dpopPath, map[string]string{"authorization": "DPoP " + tok,
		"dpop": testkit.DPoPProof(t, client, testkit.DPoPClaims("GET", dpopURI, tok, time.Now()), nil)})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := srv.Check(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := reasonOf(resp); got != "store_unavailable" {
		t.Fatalf("reason %s, want store_unavailable", got)
	}
}

// TestDPoPProofHeaderForms: the DPoP header is read once from each form a
// request carries headers in; repeated, it is refused.
func TestDPoPProofHeaderForms(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    request
		ok   bool
	}{
		{"headers map", request{headers: []field{{"dpop", "a.b.c"}}}, true},
		{"headers map, joined by Envoy", request{headers: []field{{"dpop", "a.b.c,d.e.f"}}}, false},
		{"header_map, once", request{headers: []field{{"dpop", "a.b.c"}}, firstWins: true}, true},
		{"header_map, twice", request{headers: []field{{"dpop", "a.b.c"}, {"dpop", "a.b.c"}}, firstWins: true}, false},
		{"HTTP, once", request{httpHeaders: http.Header{"Dpop": {"a.b.c"}}}, true},
		{"HTTP, twice", request{httpHeaders: http.Header{"Dpop": {"a.b.c", "a.b.c"}}}, false},
		{"HTTP, empty", request{httpHeaders: http.Header{"Dpop": {" "}}}, false},
		{"none", request{httpHeaders: http.Header{}}, false},
		{"too large", request{headers: []field{{"dpop", strings.Repeat("a", dpop.MaxProofBytes+1)}}}, false},
	} {
		if _, ok := tc.r.dpopProof(); ok != tc.ok {
			t.Errorf("%s: ok = %v, want %v", tc.name, ok, tc.ok)
		}
	}
}
