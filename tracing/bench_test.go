package tracing

import (
	"context"
	"math/rand/v2"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// BenchmarkStartRoot is the cost of asking for a span: dropped (what
// 99 % of Checks pay at a 1 % ratio) and sampled, with a Check's
// attributes, ended and handed to a batching exporter.
func BenchmarkStartRoot(b *testing.B) {
	for _, tc := range []struct {
		name  string
		ratio float64
	}{{"dropped", 0}, {"sampled", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := New(b.Context(), Options{SampleRatio: &tc.ratio, Lookup: func(string) (string, bool) { return "", false }, Exporter: tracetest.NewNoopExporter()})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = p.Shutdown(context.Background()) }()
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				_, span := p.StartRoot(ctx, "check", trace.SpanKindServer, rand.Uint64())
				if span != nil {
					span.SetAttributes(
						attribute.String("jwt_authz.provider", "corp"),
						attribute.String("jwt_authz.result", "allowed"),
						attribute.String("jwt_authz.reason", "ok"),
						attribute.Bool("jwt_authz.cache_hit", true),
						attribute.String("http.request.method", "GET"),
						attribute.String("server.address", "api.example.com"),
						attribute.String("url.path", "/api/orders"),
						attribute.Int("jwt_authz.rule", -1),
						attribute.String("jwt_authz.sub_hash", "0123456789abcdef"),
					)
					span.End()
				}
			}
		})
	}
}
