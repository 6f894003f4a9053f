package tracing

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// checkAttrs are the attributes of a Check's span, gathered in one slice
// that is reused, as the Check server does.
var checkAttrs = []attribute.KeyValue{
	attribute.String("jwt_authz.provider", "corp"),
	attribute.String("jwt_authz.result", "allowed"),
	attribute.String("jwt_authz.reason", "ok"),
	attribute.Bool("jwt_authz.cache_hit", true),
	attribute.String("http.request.method", "GET"),
	attribute.String("url.path", "/api/orders"),
	attribute.Int("jwt_authz.rule", -1),
	attribute.String("jwt_authz.sub_hash", "0123456789abcdef"),
}

// startCheckSpans asks p for a root span b.N times and, when one is
// sampled, gives it a Check's attributes and ends it.
func startCheckSpans(b *testing.B, p *Provider) {
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		_, span := p.StartRoot(ctx, "check", trace.SpanKindServer, rand.Uint64())
		if span != nil {
			span.SetAttributes(checkAttrs...)
			span.End()
		}
	}
}

// BenchmarkStartRoot is the cost of asking for a span: dropped (what
// 99 % of Checks pay at a 1 % ratio) and sampled, with a Check's
// attributes, ended and handed synchronously to an exporter that drops
// it. The sampled figure is the span's cost in the SDK; the batching and
// export that follow in a running server are BenchmarkExportOTLPHTTP's.
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
			startCheckSpans(b, p)
		})
	}
}

// BenchmarkExportOTLPHTTP is the whole cost of a sampled span in a
// running server: started, given a Check's attributes, ended, queued to
// the batch span processor, then encoded and sent over OTLP/HTTP to a
// loopback receiver that reads and drops each request. cpu-ns/span is the
// process's CPU time (user and system, every goroutine: the batching and
// export goroutines, and the receiver reading the requests) per span,
// the buffered spans flushed by Shutdown included; ns/op is wall time,
// which on more than one core leaves out what runs beside the loop. The
// queue is made long enough that no span is dropped for want of room (the
// processor drops rather than block), so every span is exported.
func BenchmarkExportOTLPHTTP(b *testing.B) {
	b.Setenv("OTEL_BSP_MAX_QUEUE_SIZE", "1048576")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	one := 1.0
	p, err := New(b.Context(), Options{Endpoint: srv.URL, Protocol: ProtocolHTTP, SampleRatio: &one, Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		b.Fatal(err)
	}
	cpu0 := processCPU(b)
	startCheckSpans(b, p)
	if err := p.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/span")
}

// processCPU is the CPU time the process has used, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
