package tracing

import (
	"context"
	"math/rand/v2"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func ratio(r float64) *float64 { return &r }

func newTestProvider(t *testing.T, r *float64, vars map[string]string) (*Provider, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	p, err := New(t.Context(), Options{SampleRatio: r, Lookup: env(vars), Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p, exp
}

// start asks p for a span as a server does: a child when it found a
// caller's trace, else a root with a random id.
func start(p *Provider, ctx context.Context, name string, parent bool) (context.Context, trace.Span) {
	if parent {
		return p.StartChild(ctx, name, trace.SpanKindServer)
	}
	return p.StartRoot(ctx, name, trace.SpanKindServer, rand.Uint64())
}

// remote returns ctx holding a caller's span context.
func remote(ctx context.Context, sampled bool) (context.Context, trace.SpanContext) {
	cfg := trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		Remote:  true,
	}
	if sampled {
		cfg.TraceFlags = trace.FlagsSampled
	}
	sc := trace.NewSpanContext(cfg)
	return trace.ContextWithRemoteSpanContext(ctx, sc), sc
}

func TestStart(t *testing.T) {
	tests := map[string]struct {
		ratio      float64
		parent     string // "", "sampled", "unsampled"
		wantSpan   bool
		wantParent bool
	}{
		"new trace, ratio 1":             {ratio: 1, wantSpan: true},
		"new trace, ratio 0":             {ratio: 0},
		"sampled caller, ratio 0":        {ratio: 0, parent: "sampled", wantSpan: true, wantParent: true},
		"unsampled caller, ratio 1":      {ratio: 1, parent: "unsampled"},
		"sampled caller, ratio 1":        {ratio: 1, parent: "sampled", wantSpan: true, wantParent: true},
		"caller not looked for, ratio 0": {ratio: 0, parent: "ignored"},
		"caller not looked for, ratio 1": {ratio: 1, parent: "ignored", wantSpan: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, exp := newTestProvider(t, ratio(tc.ratio), nil)
			ctx := t.Context()
			var psc trace.SpanContext
			if tc.parent != "" {
				ctx, psc = remote(ctx, tc.parent != "unsampled")
			}
			_, span := start(p, ctx, "check", tc.parent != "" && tc.parent != "ignored")
			if (span != nil) != tc.wantSpan {
				t.Fatalf("span = %v, want one: %v", span, tc.wantSpan)
			}
			if span == nil {
				return
			}
			span.End()
			got := exp.GetSpans()
			if len(got) != 1 {
				t.Fatalf("%d spans exported", len(got))
			}
			s := got[0]
			if s.Name != "check" || s.SpanKind != trace.SpanKindServer {
				t.Errorf("span %q kind %v", s.Name, s.SpanKind)
			}
			if tc.wantParent {
				if s.Parent.SpanID() != psc.SpanID() || s.SpanContext.TraceID() != psc.TraceID() {
					t.Errorf("parent %v trace %v, want %v %v", s.Parent.SpanID(), s.SpanContext.TraceID(), psc.SpanID(), psc.TraceID())
				}
			} else if s.Parent.IsValid() {
				t.Errorf("span has parent %v", s.Parent)
			}
		})
	}
}

// TestStartRootRatioKeepsTraceID: the span of a sampled new trace has
// the trace id the sampler decided on, so a ratio sampler samples about
// the ratio, not its square.
func TestStartRootRatioKeepsTraceID(t *testing.T) {
	p, exp := newTestProvider(t, ratio(0.5), nil)
	const n = 2000
	sampled := 0
	for range n {
		if _, span := start(p, t.Context(), "check", false); span != nil {
			sampled++
			span.End()
		}
	}
	if got := len(exp.GetSpans()); got != sampled {
		t.Fatalf("%d spans exported, %d started", got, sampled)
	}
	// Binomial(2000, 0.5): 800 is more than 8 standard deviations away; the
	// square of the ratio would give about 500.
	if sampled < 800 || sampled > 1200 {
		t.Fatalf("%d of %d sampled at ratio 0.5", sampled, n)
	}
}

// TestStartRootIDStaysWithItsSpan: the trace id StartRoot chose is the
// new span's alone; a new trace started from the span's context, as a
// background fetch would, draws an id of its own.
func TestStartRootIDStaysWithItsSpan(t *testing.T) {
	p, exp := newTestProvider(t, ratio(1), nil)
	ctx, span := start(p, t.Context(), "check", false)
	_, other := p.Tracer().Start(ctx, "jwks.fetch", trace.WithNewRoot())
	other.End()
	span.End()
	got := exp.GetSpans()
	if len(got) != 2 {
		t.Fatalf("%d spans exported", len(got))
	}
	if got[0].SpanContext.TraceID() == got[1].SpanContext.TraceID() {
		t.Fatalf("two new traces share the id %s", got[0].SpanContext.TraceID())
	}
}

func TestDroppedStartAllocatesNothing(t *testing.T) {
	p, _ := newTestProvider(t, ratio(0.5), nil)
	ctx := t.Context()
	unsampled, _ := remote(ctx, false)
	samplerBound := uint64(0.5 * (1 << 63))
	tests := map[string]func() trace.Span{
		"root above the bound": func() trace.Span {
			_, s := p.StartRoot(ctx, "check", trace.SpanKindServer, 1<<64-1)
			return s
		},
		"root the sampler drops": func() trace.Span {
			_, s := p.StartRoot(ctx, "check", trace.SpanKindServer, samplerBound<<1)
			return s
		},
		"unsampled caller": func() trace.Span {
			_, s := p.StartChild(unsampled, "check", trace.SpanKindServer)
			return s
		},
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(1000, func() {
				if fn() != nil {
					t.Fatal("sampled")
				}
			})
			if allocs != 0 {
				t.Fatalf("a dropped start allocates %v times", allocs)
			}
		})
	}
}

func TestSamplerFromEnvironment(t *testing.T) {
	tests := map[string]struct {
		vars    map[string]string
		ratio   *float64
		want    string // the sampler's description
		wantErr bool
	}{
		"default":                  {want: "ParentBased{root:TraceIDRatioBased{0.01}"},
		"config wins":              {vars: map[string]string{"OTEL_TRACES_SAMPLER": "always_on"}, ratio: ratio(0.25), want: "ParentBased{root:TraceIDRatioBased{0.25}"},
		"always_on":                {vars: map[string]string{"OTEL_TRACES_SAMPLER": "always_on"}, want: "AlwaysOnSampler"},
		"always_off":               {vars: map[string]string{"OTEL_TRACES_SAMPLER": "always_off"}, want: "AlwaysOffSampler"},
		"parentbased_always_on":    {vars: map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_always_on"}, want: "ParentBased{root:AlwaysOnSampler"},
		"parentbased_always_off":   {vars: map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_always_off"}, want: "ParentBased{root:AlwaysOffSampler"},
		"traceidratio":             {vars: map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5"}, want: "TraceIDRatioBased{0.5}"},
		"parentbased_traceidratio": {vars: map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}, want: "ParentBased{root:TraceIDRatioBased{0.1}"},
		"ratio without arg":        {vars: map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio"}, want: "TraceIDRatioBased{1}"},
		"bad arg":                  {vars: map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, wantErr: true},
		"unknown sampler":          {vars: map[string]string{"OTEL_TRACES_SAMPLER": "jaeger_remote"}, wantErr: true},
		"bad ratio":                {ratio: ratio(-1), wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, _, err := newSampler(tc.ratio, env(tc.vars))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("sampler %v, want an error", s.Description())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := s.Description(); len(d) < len(tc.want) || d[:len(tc.want)] != tc.want {
				t.Fatalf("sampler %q, want %q...", d, tc.want)
			}
		})
	}
}

func TestProtocol(t *testing.T) {
	tests := map[string]struct {
		opt     string
		vars    map[string]string
		want    string
		wantErr bool
	}{
		"default":         {want: ProtocolGRPC},
		"option":          {opt: ProtocolHTTP, vars: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, want: ProtocolHTTP},
		"general env":     {vars: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, want: ProtocolHTTP},
		"traces env wins": {vars: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, want: ProtocolGRPC},
		"http/json":       {vars: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := protocol(tc.opt, env(tc.vars))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("protocol = %q, %v; want %q (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestExportOTLPHTTP sends a span through the OTLP/HTTP exporter to a
// receiver that decodes the request, and checks that Shutdown flushes it.
func TestExportOTLPHTTP(t *testing.T) {
	got := make(chan *coltracepb.ExportTraceServiceRequest, 4)
	srv := testkit.OTLPReceiver(t, func(req *coltracepb.ExportTraceServiceRequest) { got <- req })
	// The endpoint is a base URL, like OTEL_EXPORTER_OTLP_ENDPOINT; the
	// environment's endpoint must not win over it.
	p, err := New(t.Context(), Options{
		Endpoint: srv.URL, Protocol: ProtocolHTTP, SampleRatio: ratio(1), ServiceVersion: "v9.9.9",
		Lookup: env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, span := start(p, t.Context(), "check", false)
	span.End()
	if err := p.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	req := <-got
	rs := req.GetResourceSpans()
	if len(rs) != 1 || len(rs[0].GetScopeSpans()) != 1 || len(rs[0].GetScopeSpans()[0].GetSpans()) != 1 {
		t.Fatalf("export %v", req)
	}
	attrs := map[string]string{}
	for _, kv := range rs[0].GetResource().GetAttributes() {
		attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	if attrs["service.name"] != ServiceName || attrs["service.version"] != "v9.9.9" {
		t.Errorf("resource %v", attrs)
	}
	if s := rs[0].GetScopeSpans()[0].GetSpans()[0]; s.GetName() != "check" {
		t.Errorf("span %v", s)
	}
}

var _ sdktrace.IDGenerator = idGenerator{}

// TestRootBoundNeverDropsASampledTrace: the bound StartRoot drops new
// traces by spares the sampler only ids it would drop itself.
func TestRootBoundNeverDropsASampledTrace(t *testing.T) {
	for _, r := range []float64{0, 1e-9, 0.001, 0.01, 0.1, 0.5, 0.999999, 1} {
		s, bound, err := newSampler(&r, env(nil))
		if err != nil {
			t.Fatal(err)
		}
		// Ids around the sampler's own bound, and random ones.
		edge := uint64(r * (1 << 63))
		los := []uint64{0, 1, edge << 1, (edge - 1) << 1, (edge + 1) << 1, (edge + 2) << 1, 1<<64 - 1}
		for range 20000 {
			los = append(los, rand.Uint64())
		}
		for _, lo := range los {
			tid := traceIDOf(rand.Uint64(), lo)
			sampled := s.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: tid}).Decision != sdktrace.Drop
			if sampled && lo>>1 >= bound {
				t.Fatalf("ratio %v: id %s is sampled, but the bound %d drops it", r, tid, bound)
			}
		}
	}
}
