package extauthz

import (
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"

	"github.com/jwt-authz/jwt-authz/dpop"
	"github.com/jwt-authz/jwt-authz/internal/proctune"
	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// newDPoPBenchEnv is newBenchEnv's provider with DPoP proofs checked.
func newDPoPBenchEnv(b *testing.B, cacheEntries int) *benchEnv {
	b.Helper()
	checker, err := dpop.New(dpop.Config{Provider: "corp", Replay: testkit.NeverSeen{}})
	if err != nil {
		b.Fatal(err)
	}
	return newBenchEnvOf(b, []string{"ES256", "EdDSA"}, func(p *Provider) { p.DPoP = checker }, Options{CacheEntries: cacheEntries})
}

// BenchmarkCheckDPoPNonce is the cached DPoP Check of BenchmarkCheckDPoP
// (EdDSA) with server nonces: without nonces (off), with the current
// nonce in the proof (current), and with a nonce of the previous window
// (stale), whose allowed answer carries the current nonce in
// response_headers_to_add. The server's clock stands still, so the
// windows do not move during the run.
func BenchmarkCheckDPoPNonce(b *testing.B) {
	at := time.Now()
	nonces, err := dpop.NewNonces([]byte(strings.Repeat("n", 32)), time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	client := testkit.NewKey(b, "EdDSA", "")
	for _, tc := range []struct {
		name   string
		nonces *dpop.Nonces
		nonce  string
	}{{"off", nil, ""}, {"current", nonces, nonces.Current(at)}, {"stale", nonces, nonces.Current(at.Add(-time.Minute))}} {
		checker, err := dpop.New(dpop.Config{Provider: "corp", Replay: testkit.NeverSeen{}, Nonces: tc.nonces})
		if err != nil {
			b.Fatal(err)
		}
		be := newBenchEnvOf(b, []string{"EdDSA"}, func(p *Provider) { p.DPoP = checker },
			Options{CacheEntries: 100000, Clock: func() time.Time { return at }})
		tok := be.signClaims(b, "EdDSA", func(c map[string]any) { c["cnf"] = map[string]any{"jkt": client.JKT(b)} }, nil)
		claims := testkit.DPoPClaims("GET", "https://api.example.com/api/orders", tok, at)
		if tc.nonce != "" {
			claims["nonce"] = tc.nonce
		}
		req := dpopEnvoyRequestProof(b, tok, testkit.DPoPProof(b, client, claims, nil))
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx, c := b.Context(), getCall()
			serveWire(b, ctx, be.srv, c, req)
			if !dpopAllowed(b, be.srv, req) {
				b.Fatal("the DPoP request is not allowed")
			}
			cpu0, ok := proctune.CPUTime()
			n := 0
			for b.Loop() {
				serveWire(b, ctx, be.srv, c, req)
				n++
			}
			if cpu1, ok1 := proctune.CPUTime(); ok && ok1 && cpu1 > cpu0 {
				b.ReportMetric(float64(n)/(cpu1-cpu0).Seconds(), "checks/cpu-s")
			}
		})
	}
}

// dpopEnvoyRequest is envoyRequest with the token sent as
// "Authorization: DPoP" and a proof of client's key for the request.
func dpopEnvoyRequest(b *testing.B, tok string, client *testkit.Key) []byte {
	return dpopEnvoyRequestProof(b, tok, testkit.DPoPProof(b, client, testkit.DPoPClaims("GET", "https://api.example.com/api/orders", tok, time.Now()), nil))
}

// dpopEnvoyRequestProof is envoyRequest with the token sent as
// "Authorization: DPoP" and proof as its DPoP header.
func dpopEnvoyRequestProof(b *testing.B, tok, proof string) []byte {
	var msg authv3.CheckRequest
	if err := proto.Unmarshal(envoyRequest(b, tok), &msg); err != nil {
		b.Fatal(err)
	}
	h := msg.GetAttributes().GetRequest().GetHttp().GetHeaders()
	h["authorization"] = "DPoP " + tok
	h["dpop"] = proof
	out, err := proto.Marshal(&msg)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkCheckDPoP compares Checks of a bearer token and of a DPoP-bound
// token with its proof, the token cached and not, with ES256 and EdDSA
// (the token and the proof signed with the same algorithm), in Checks per
// CPU-second of the process (checks/cpu-s) besides ns/op. A DPoP Check
// is a bearer Check plus one proof: its signature, its claims, its URL
// and the access token's hash; the proof's key is decoded once.
func BenchmarkCheckDPoP(b *testing.B) {
	cached, uncached := newDPoPBenchEnv(b, 100000), newDPoPBenchEnv(b, 0)
	for _, alg := range []string{"ES256", "EdDSA"} {
		client := testkit.NewKey(b, alg, "")
		for _, env := range []struct {
			name string
			be   *benchEnv
		}{{"cached", cached}, {"uncached", uncached}} {
			bearer := envoyRequest(b, env.be.sign(b, alg, nil))
			boundTok := env.be.signClaims(b, alg, func(c map[string]any) { c["cnf"] = map[string]any{"jkt": client.JKT(b)} }, nil)
			bound := dpopEnvoyRequest(b, boundTok, client)
			for _, tc := range []struct {
				name string
				req  []byte
			}{{"bearer", bearer}, {"dpop", bound}} {
				b.Run(env.name+"_"+tc.name+"_"+alg, func(b *testing.B) {
					b.ReportAllocs()
					ctx, c := b.Context(), getCall()
					serveWire(b, ctx, env.be.srv, c, tc.req)
					if tc.name == "dpop" && !dpopAllowed(b, env.be.srv, tc.req) {
						b.Fatal("the DPoP request is not allowed")
					}
					cpu0, ok := proctune.CPUTime()
					n := 0
					for b.Loop() {
						serveWire(b, ctx, env.be.srv, c, tc.req)
						n++
					}
					if cpu1, ok1 := proctune.CPUTime(); ok && ok1 && cpu1 > cpu0 {
						b.ReportMetric(float64(n)/(cpu1-cpu0).Seconds(), "checks/cpu-s")
					}
				})
			}
		}
	}
}

// dpopAllowed reports whether srv allows the marshalled request.
func dpopAllowed(b *testing.B, srv *Server, req []byte) bool {
	var msg authv3.CheckRequest
	if err := proto.Unmarshal(req, &msg); err != nil {
		b.Fatal(err)
	}
	resp, err := srv.Check(b.Context(), &msg)
	if err != nil {
		b.Fatal(err)
	}
	return reasonOf(resp) == "ok"
}
