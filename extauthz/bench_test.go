package extauthz

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/protobuf/proto"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/jwks"
	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/revocation/memory"
	"github.com/jwt-authz/jwt-authz/token"
	"github.com/jwt-authz/jwt-authz/tracing"
)

type benchEnv struct {
	srv  *Server
	keys map[string]*testkit.Key
}

func newBenchEnv(b *testing.B, cacheEntries int, rev RevocationChecker) *benchEnv {
	b.Helper()
	return newBenchEnvOf(b, []string{"RS256", "ES256", "EdDSA"}, nil, Options{Revocation: rev, CacheEntries: cacheEntries})
}

// newBenchEnvOf builds a benchEnv whose provider "corp" trusts one key of
// each of algs. prep, when not nil, completes the provider before the
// policy is built; opts gets the policy's metrics.
func newBenchEnvOf(b *testing.B, algs []string, prep func(*Provider), opts Options) *benchEnv {
	b.Helper()
	be := &benchEnv{keys: map[string]*testkit.Key{}}
	var keys []*jwks.Key
	for _, alg := range algs {
		k := testkit.NewKey(b, alg, "k-"+alg)
		be.keys[alg] = k
		jk, err := jwks.FromPublicKey(k.KID, alg, k.Public())
		if err != nil {
			b.Fatal(err)
		}
		keys = append(keys, jk)
	}
	// A static source answers like a loaded JWKS, including the lock-free
	// "could this kid exist" check.
	src := jwks.NewStatic("corp", keys)
	prov := &Provider{
		Token:             &token.Provider{Name: "corp", Issuer: iss, Audiences: []string{"orders-api"}, RequireExp: true, Keys: src},
		ForwardClaims:     map[string]string{"sub": "x-jwt-sub"},
		KeepAuthorization: true,
	}
	if prep != nil {
		prep(prov)
	}
	v, err := token.NewVerifier([]*token.Provider{prov.Token}, token.Options{})
	if err != nil {
		b.Fatal(err)
	}
	m := NewMetrics(prometheus.NewRegistry())
	pol, err := NewPolicy(PolicyOptions{Verifier: v, Providers: []*Provider{prov}}, m)
	if err != nil {
		b.Fatal(err)
	}
	opts.Metrics = m
	srv, err := NewServer(pol, opts)
	if err != nil {
		b.Fatal(err)
	}
	be.srv = srv
	return be
}

// sign signs a token with alg's key; extra is added to its header.
func (be *benchEnv) sign(b *testing.B, alg string, extra map[string]any) string {
	return be.signClaims(b, alg, nil, extra)
}

// signClaims signs a token whose claims mut changed.
func (be *benchEnv) signClaims(b *testing.B, alg string, mut func(map[string]any), header map[string]any) string {
	c := testkit.Claims(iss, "alice", "orders-api")
	c["scope"] = "read write"
	if mut != nil {
		mut(c)
	}
	return testkit.Sign(b, be.keys[alg], c, header)
}

// BenchmarkCheck covers the Check path: cached, uncached per algorithm,
// and the rejections that must stay cheap (garbage, oversize, unknown kid).
func BenchmarkCheck(b *testing.B) {
	rev := &revoked{jtis: map[string]bool{}}
	cached := newBenchEnv(b, 100000, rev)
	uncached := newBenchEnv(b, 0, rev)
	cases := []struct {
		name string
		env  *benchEnv
		tok  string
	}{
		{"cached", cached, cached.sign(b, "ES256", nil)},
		{"uncached_RS256", uncached, uncached.sign(b, "RS256", nil)},
		{"uncached_ES256", uncached, uncached.sign(b, "ES256", nil)},
		{"uncached_EdDSA", uncached, uncached.sign(b, "EdDSA", nil)},
		{"garbage", cached, "this-is-not-a-jwt"},
		{"oversize", cached, strings.Repeat("x", 9000)},
		{"unknown_kid", cached, cached.sign(b, "ES256", map[string]any{"kid": "nope"})},
	}
	// Many tokens in turn, eight times more than the hot tier holds: cache
	// hits that are mostly not hot, as with many users.
	many := make([][]byte, 8*hotSlots)
	for i := range many {
		tok := cached.signClaims(b, "ES256", func(c map[string]any) { c["jti"] = strconv.Itoa(i) }, nil)
		many[i] = envoyRequest(b, tok)
		serveWire(b, b.Context(), cached.srv, getCall(), many[i])
	}
	runInTurn(b, "cached_many", cached.srv, many)
	// A different unknown kid per request, as in a flood: the header
	// cache does not help.
	unknown := make([][]byte, 4096)
	for i := range unknown {
		unknown[i] = envoyRequest(b, cached.sign(b, "ES256", map[string]any{"kid": "nope-" + strconv.Itoa(i)}))
	}
	runInTurn(b, "unknown_kid_many", cached.srv, unknown)
	for _, tc := range cases {
		req := envoyRequest(b, tc.tok)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := b.Context()
			c := getCall()
			for b.Loop() {
				serveWire(b, ctx, tc.env.srv, c, req)
			}
		})
		b.Run(tc.name+"_parallel", func(b *testing.B) {
			b.ReportAllocs()
			ctx := b.Context()
			b.RunParallel(func(pb *testing.PB) {
				c := getCall()
				for pb.Next() {
					serveWire(b, ctx, tc.env.srv, c, req)
				}
			})
		})
	}
}

// runInTurn benchmarks Checks of the requests in turn, one per iteration.
func runInTurn(b *testing.B, name string, srv *Server, reqs [][]byte) {
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		ctx, c, i := b.Context(), getCall(), 0
		for b.Loop() {
			serveWire(b, ctx, srv, c, reqs[i%len(reqs)])
			i++
		}
	})
}

// envoyRequest is a marshalled CheckRequest as Envoy sends it: the HTTP
// attributes with pseudo-headers and a handful of ordinary headers, and
// the source and destination peers.
func envoyRequest(b *testing.B, tok string) []byte {
	return envoyRequestWith(b, tok, nil)
}

// envoyRequestWith is envoyRequest with extra headers.
func envoyRequestWith(b *testing.B, tok string, extra map[string]string) []byte {
	headers := map[string]string{
		":authority": "api.example.com", ":method": "GET", ":path": "/api/orders", ":scheme": "https",
		"accept": "application/json", "user-agent": "bench/1.0", "x-forwarded-proto": "https",
		"x-request-id": "6f1c2d9e-8b1a-4c57-9e0f-1f2a3b4c5d6e", "authorization": "Bearer " + tok,
	}
	for k, v := range extra {
		headers[k] = v
	}
	req := checkReq("GET", "/api/orders", headers)
	attrs := req.GetAttributes()
	attrs.Source = &authv3.AttributeContext_Peer{Address: socketAddress("10.0.0.7", 51234)}
	attrs.Destination = &authv3.AttributeContext_Peer{Address: socketAddress("10.0.0.9", 8080)}
	h := attrs.GetRequest().GetHttp()
	h.Id, h.Scheme, h.Protocol = "1234567890", "https", "HTTP/2"
	out, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

func socketAddress(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

// serveWire is the work of one Check past gRPC's framing: the request
// read in place, the decision, the response built (and its buffer
// recycled, as gRPC does once it is written). It reports whether the
// Check was allowed.
func serveWire(tb testing.TB, ctx context.Context, srv *Server, c *checkCall, req []byte) bool {
	c.r = request{headers: c.r.headers[:0], headerMap: c.r.headerMap[:0]}
	if err := decodeCheck(req, &c.r); err != nil {
		tb.Fatal(err)
	}
	c.r.finish()
	resp, ok := srv.serve(ctx, &c.r).(*wireResponse)
	if ok {
		responsePool.Put((*[]byte)(resp))
	}
	return ok
}

// BenchmarkCheckCachedRevocation compares a cached Check without a
// revocation checker and with the real revocation index holding
// 1,000,000 revoked jtis.
func BenchmarkCheckCachedRevocation(b *testing.B) {
	svc, err := revocation.NewService(memory.New(nil), revocation.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).Unix()
	const n = 1_000_000
	for i := range n {
		e := revocation.Entry{Kind: revocation.KindJTI, Value: "revoked-" + strconv.Itoa(i), ExpiresAt: exp, CreatedAt: time.Now().UnixMilli()}
		if err := svc.Revoke(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	for _, withRev := range []bool{false, true} {
		var rev RevocationChecker
		if withRev {
			rev = svc.Index()
		}
		be := newBenchEnv(b, 1000, rev)
		req := envoyRequest(b, be.sign(b, "ES256", nil))
		b.Run(fmt.Sprintf("revocation=%v", withRev), func(b *testing.B) {
			b.ReportAllocs()
			c := getCall()
			for b.Loop() {
				serveWire(b, b.Context(), be.srv, c, req)
			}
		})
	}
}

// BenchmarkCheckTracing compares the cached Check with tracing off and on:
// at ratio 0 (every Check looks for trace headers and draws a random
// number), at a 1 % ratio (the sampled 1 % also make a span, handed to an
// exporter that drops it), and at 1 % for a request whose caller's trace
// is not sampled (extracted, then dropped).
func BenchmarkCheckTracing(b *testing.B) {
	rev := &revoked{jtis: map[string]bool{}}
	off := newBenchEnv(b, 100000, rev)
	withTracing := func(ratio float64) *benchEnv {
		be := newBenchEnv(b, 100000, rev)
		p, err := tracing.New(b.Context(), tracing.Options{SampleRatio: &ratio, Exporter: tracetest.NewNoopExporter(), Lookup: func(string) (string, bool) { return "", false }})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = p.Shutdown(context.Background()) })
		be.srv.tracer, be.srv.rootBound = p, p.RootBound()
		// The same token for every server: they share the keys.
		be.srv.SetPolicy(off.srv.Policy())
		return be
	}
	zero, one, all := withTracing(0), withTracing(0.01), withTracing(1)
	tok := off.sign(b, "ES256", nil)
	plain := envoyRequest(b, tok)
	unsampled := envoyRequestWith(b, tok, map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"})
	for _, tc := range []struct {
		name string
		env  *benchEnv
		req  []byte
	}{
		{"off", off, plain},
		{"ratio=0", zero, plain},
		{"ratio=0.01", one, plain},
		{"ratio=0.01/caller_unsampled", one, unsampled},
		{"ratio=1", all, plain},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx, c := b.Context(), getCall()
			for b.Loop() {
				serveWire(b, ctx, tc.env.srv, c, tc.req)
			}
		})
	}
}

// BenchmarkTraceDecision is what tracing on adds to a Check whose caller
// sent no trace context before any span is started: the look for trace
// headers among the request's nine and the root decision, one random
// number against the sampler's bound. At a 1 % ratio 99 % of the Checks
// stop there; at ratio 0, measured here, all of them do.
func BenchmarkTraceDecision(b *testing.B) {
	be := newBenchEnv(b, 1000, &revoked{jtis: map[string]bool{}})
	ratio := 0.0
	p, err := tracing.New(b.Context(), tracing.Options{SampleRatio: &ratio, Exporter: tracetest.NewNoopExporter(), Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = p.Shutdown(context.Background()) }()
	be.srv.tracer, be.srv.rootBound = p, p.RootBound()
	var r request
	if err := decodeCheck(envoyRequest(b, be.sign(b, "ES256", nil)), &r); err != nil {
		b.Fatal(err)
	}
	r.finish()
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, tr := be.srv.startSpan(ctx, &r, spanCheck); tr.span != nil {
			b.Fatal("sampled at ratio 0")
		}
	}
}

// BenchmarkCheckTracingRatio reports the cost of tracing as a ratio to
// the same cached Check with tracing off (on/off): the median, over
// pairs of adjacent rounds of 1000 Checks each, of the on round's time
// over the off round's, the order alternating from pair to pair, so that
// a busy machine slows both sides of a pair alike and a burst of load
// spoils a few pairs, not the figure. At ratio 0 it is what every Check
// pays (the look for trace headers and the sampler's question); at ratio
// 0.01 the spans of the sampled 1 % are added, ended and handed to an
// exporter that drops them.
func BenchmarkCheckTracingRatio(b *testing.B) {
	for _, ratio := range []float64{-1, 0, 0.01} {
		b.Run(fmt.Sprintf("ratio=%v", ratio), func(b *testing.B) {
			rev := &revoked{jtis: map[string]bool{}}
			off := newBenchEnv(b, 100000, rev)
			on := newBenchEnv(b, 100000, rev)
			if ratio >= 0 {
				p, err := tracing.New(b.Context(), tracing.Options{SampleRatio: &ratio, Exporter: tracetest.NewNoopExporter(), Lookup: func(string) (string, bool) { return "", false }})
				if err != nil {
					b.Fatal(err)
				}
				defer func() { _ = p.Shutdown(context.Background()) }()
				on.srv.tracer, on.srv.rootBound = p, p.RootBound()
			}
			on.srv.SetPolicy(off.srv.Policy())
			req := envoyRequest(b, off.sign(b, "ES256", nil))
			ctx, c := b.Context(), getCall()
			round := func(srv *Server) time.Duration {
				t0 := time.Now()
				for range 1000 {
					serveWire(b, ctx, srv, c, req)
				}
				return time.Since(t0)
			}
			var ratios []float64
			var offTotal time.Duration
			b.ReportAllocs()
			for b.Loop() {
				var tOff, tOn time.Duration
				if len(ratios)%2 == 0 {
					tOff, tOn = round(off.srv), round(on.srv)
				} else {
					tOn, tOff = round(on.srv), round(off.srv)
				}
				ratios = append(ratios, float64(tOn)/float64(tOff))
				offTotal += tOff
			}
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "on/off")
			b.ReportMetric(float64(offTotal.Nanoseconds())/float64(b.N*1000), "ns/off")
		})
	}
}
