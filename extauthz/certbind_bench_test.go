package extauthz

import (
	"io"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// BenchmarkCheckSenderAndLog compares cached Checks: a bearer token, a
// certificate-bound token with its certificate in source.certificate (the
// certificate decoded and hashed on every request), and a bearer token
// with the decision log on, unsampled and sampled (to io.Discard).
func BenchmarkCheckSenderAndLog(b *testing.B) {
	ca := testkit.NewCA(b)
	der := ca.ClientCert(b, "client").Certificate[0]
	be := newBenchEnv(b, 100000, nil)
	bearer := envoyRequest(b, be.sign(b, "ES256", nil))
	boundTok := be.signClaims(b, "ES256", func(c map[string]any) { c["cnf"] = map[string]any{"x5t#S256": testkit.Thumbprint(der)} }, nil)
	var msg authv3.CheckRequest
	if err := proto.Unmarshal(envoyRequest(b, boundTok), &msg); err != nil {
		b.Fatal(err)
	}
	msg.Attributes.Source.Certificate = testkit.EscapedPEM(der)
	bound, err := proto.Marshal(&msg)
	if err != nil {
		b.Fatal(err)
	}
	withLog := func(allow float64) *Server {
		dl := NewDecisionLog(io.Discard, DecisionLogOptions{SampleAllow: allow, SampleDeny: 1}, be.srv.m, nil)
		b.Cleanup(dl.Close)
		srv, err := NewServer(be.srv.Policy(), Options{CacheEntries: 100000, Metrics: be.srv.m, DecisionLog: dl})
		if err != nil {
			b.Fatal(err)
		}
		return srv
	}
	for _, tc := range []struct {
		name string
		srv  *Server
		req  []byte
	}{
		{"bearer", be.srv, bearer},
		{"cert_bound", be.srv, bound},
		{"decision_log_unsampled", withLog(0), bearer},
		{"decision_log_sampled", withLog(1), bearer},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx, c := b.Context(), getCall()
			serveWire(b, ctx, tc.srv, c, tc.req)
			if c.r.certFrom == certNone && tc.name == "cert_bound" {
				b.Fatal("no certificate decoded")
			}
			for b.Loop() {
				serveWire(b, ctx, tc.srv, c, tc.req)
			}
		})
	}
}
