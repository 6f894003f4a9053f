package extauthz

import (
	"context"
	"math/rand/v2"
	"sync"

	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Tracer starts the span of a decision when its sampler would record it;
// tracing.Provider implements it. Each Start method returns ctx with the
// new span and the span, or ctx and nil, without allocating, when the
// sampler drops it.
type Tracer interface {
	// RootBound is the bound under which the low half of a new trace's
	// id, read as a ratio sampler reads it (the last 8 bytes, big-endian,
	// shifted right by one), must fall for the trace to be sampled. It
	// does not change.
	RootBound() uint64
	// StartRoot starts the span of a new trace whose id's low half is lo,
	// drawn uniformly at random.
	StartRoot(ctx context.Context, name string, kind trace.SpanKind, lo uint64) (context.Context, trace.Span)
	// StartChild starts a span continuing the caller's trace in ctx.
	StartChild(ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span)
}

// Span names of the decisions.
const (
	spanCheck       = "envoy.service.auth.v3.Authorization/Check"
	spanForwardAuth = "forward-auth"
)

// propagator reads a caller's trace context: W3C traceparent and
// tracestate, then B3 (the single b3 header or the x-b3-* headers), which
// Envoy and Istio send. It is stateless; the decision log uses it when
// tracing is off too.
var propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(
	propagation.TraceContext{}, b3.New(),
)

// mayHaveTrace reports whether r has a header that establishes a caller's
// trace context. Without one there is nothing to extract, and looking
// costs one pass over the header names' lengths and no allocation.
func (r *request) mayHaveTrace() bool {
	if r.httpHeaders != nil {
		h := r.httpHeaders
		return len(h["Traceparent"]) > 0 || len(h["B3"]) > 0 || len(h["X-B3-Traceid"]) > 0
	}
	hs := r.headers
	for i := range hs {
		// By length first: few headers have one of these three lengths,
		// and a bit test rules the others out.
		if traceNameLens>>(uint(len(hs[i].name))&63)&1 != 0 {
			if n := hs[i].name; n == "traceparent" || n == "b3" || n == "x-b3-traceid" {
				return true
			}
		}
	}
	return false
}

// traceNameLens has bit n set for the length n of each header name that
// establishes a caller's trace context. A longer name, taken modulo 64,
// may hit a bit; the comparison of the name then rules it out.
const traceNameLens = 1<<len("traceparent") | 1<<len("b3") | 1<<len("x-b3-traceid")

// headerCarrier lets the propagator read a request's headers.
type headerCarrier request

func (c *headerCarrier) Get(key string) string {
	v, _ := (*request)(c).header(key)
	return v
}

// Set is not used: a request's headers are only read.
func (c *headerCarrier) Set(string, string) {}

// Keys is not used by the propagators read from.
func (c *headerCarrier) Keys() []string { return nil }

// callerTrace returns ctx with r's caller span context, when r carries
// one, and whether it does. The caller has found a trace header
// (mayHaveTrace), which may still be malformed.
func callerTrace(ctx context.Context, r *request) (context.Context, bool) {
	ctx = propagator.Extract(ctx, (*headerCarrier)(r))
	return ctx, trace.SpanContextFromContext(ctx).IsValid()
}

// traced is the trace a decision belongs to: its span, when sampled, and
// the trace id, when there is one (a caller's unsampled trace has an id
// and no span here).
type traced struct {
	span trace.Span
	id   trace.TraceID
}

// startSpan starts the span of one decision when the sampler records it;
// tracing is on. With tracing off the caller does not call it, so that a
// decision does not even look at the headers.
func (s *Server) startSpan(ctx context.Context, r *request, name string) (context.Context, traced) {
	var t traced
	parent := false
	if r.mayHaveTrace() {
		ctx, parent = callerTrace(ctx, r)
	}
	if !parent {
		// Drawn here, the low half of a new trace's id decides most
		// requests without a call: a ratio sampler drops every id at or
		// above the bound.
		lo := rand.Uint64()
		if lo>>1 >= s.rootBound {
			return ctx, t
		}
		ctx, t.span = s.tracer.StartRoot(ctx, name, trace.SpanKindServer, lo)
	} else {
		t.id = trace.SpanContextFromContext(ctx).TraceID()
		ctx, t.span = s.tracer.StartChild(ctx, name, trace.SpanKindServer)
	}
	if t.span != nil {
		t.id = t.span.SpanContext().TraceID()
	}
	return ctx, t
}

// end records the decision on the span and ends it; t has a span. The
// attributes never include the token or its claims: the subject appears
// as the decision log's hash of it.
func (t traced) end(r *request, o *outcome, result int) {
	provider := "none"
	if o.st != nil && o.st.p != nil {
		provider = o.st.p.Name()
	}
	// At most eight: the SDK de-duplicates them through a map, which
	// stays one small group up to eight entries. The SDK copies them, so
	// the slice is reused.
	buf := spanAttrPool.Get().(*[]attribute.KeyValue)
	attrs := append((*buf)[:0],
		attribute.String("jwt_authz.provider", provider),
		resultAttrs[result],
		reasonAttrs[o.reason],
		cacheHitAttrs[b2i(o.cacheHit)],
		attribute.String("http.request.method", r.method),
	)
	if o.reason != ReasonAmbiguousPath {
		attrs = append(attrs, attribute.String("url.path", r.path))
	}
	if o.rule != nil {
		attrs = append(attrs, attribute.Int("jwt_authz.rule", o.rule.index))
	}
	if o.verified && o.claims.sub != "" {
		attrs = append(attrs, attribute.String("jwt_authz.sub_hash", string(appendSubHash(nil, o.claims.sub))))
	}
	t.span.SetAttributes(attrs...)
	clear(attrs)
	*buf = attrs
	spanAttrPool.Put(buf)
	if o.reason.kind() == kindUnavailable && result != resultAllowed {
		t.span.SetStatus(codes.Error, o.reason.String())
	}
	t.span.End()
}

// spanAttrPool holds the slices a span's attributes are gathered in: one
// passed to a span escapes, and would be allocated for every span.
var spanAttrPool = sync.Pool{New: func() any {
	s := make([]attribute.KeyValue, 0, 8)
	return &s
}}

// The decision attributes of a few values each, built once, by index:
// result, reason, cache hit (0 false, 1 true).
var (
	resultAttrs   = stringAttrs("jwt_authz.result", resultNames[:])
	reasonAttrs   = stringAttrs("jwt_authz.reason", reasonNames[:])
	cacheHitAttrs = [2]attribute.KeyValue{attribute.Bool("jwt_authz.cache_hit", false), attribute.Bool("jwt_authz.cache_hit", true)}
)

func stringAttrs(key string, values []string) []attribute.KeyValue {
	kvs := make([]attribute.KeyValue, len(values))
	for i, v := range values {
		kvs[i] = attribute.String(key, v)
	}
	return kvs
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// traceIDOf returns the trace id of r's caller, for the decision log when
// no span was started: the propagator's reading of r's headers.
func traceIDOf(r *request) (trace.TraceID, bool) {
	if !r.mayHaveTrace() {
		return trace.TraceID{}, false
	}
	ctx, ok := callerTrace(context.Background(), r)
	if !ok {
		return trace.TraceID{}, false
	}
	return trace.SpanContextFromContext(ctx).TraceID(), true
}

var _ propagation.TextMapCarrier = (*headerCarrier)(nil)
