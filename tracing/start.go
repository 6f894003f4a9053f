package tracing

import (
	"context"
	"encoding/binary"
	"math/rand/v2"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// StartSampled starts a span named name of the given kind when the
// sampler would record it, and otherwise returns ctx and a nil span
// without allocating: a request the sampler drops costs a random trace id
// and one sampler call, not a span.
//
// parent says whether ctx may hold a caller's span context (a propagator
// extracted one from the request); when false, ctx is not searched for
// one and the span, if sampled, starts a new trace whatever ctx holds. A sampled caller's
// trace is continued as the sampler says (parent-based: always).
func (p *Provider) StartSampled(ctx context.Context, name string, kind trace.SpanKind, parent bool) (context.Context, trace.Span) {
	params := sdktrace.SamplingParameters{ParentContext: context.Background(), Name: name, Kind: kind}
	var psc trace.SpanContext
	if parent {
		psc = trace.SpanContextFromContext(ctx)
	}
	if psc.IsValid() {
		params.ParentContext, params.TraceID = ctx, psc.TraceID()
	} else {
		// The half of the id a ratio sampler reads first: most new traces
		// end here, before the rest of the id is drawn.
		lo := rand.Uint64()
		if lo>>1 >= p.rootBound {
			return ctx, nil
		}
		params.TraceID = traceIDOf(rand.Uint64(), lo)
	}
	if p.sampler.ShouldSample(params).Decision == sdktrace.Drop {
		return ctx, nil
	}
	if psc.IsValid() {
		return p.check.Start(ctx, name, trace.WithSpanKind(kind))
	}
	// The SDK draws the trace id again when it starts the span; it must be
	// the one just sampled, or a ratio sampler would decide anew.
	ctx = context.WithValue(ctx, traceIDKey{}, params.TraceID)
	return p.check.Start(ctx, name, trace.WithSpanKind(kind), trace.WithNewRoot())
}

// traceIDKey keys the trace id StartSampled chose for a new trace.
type traceIDKey struct{}

// idGenerator draws random ids like the SDK's own, except that a new
// trace takes the id StartSampled put in the context.
type idGenerator struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	tid, ok := ctx.Value(traceIDKey{}).(trace.TraceID)
	if !ok || !tid.IsValid() {
		tid = newTraceID()
	}
	return tid, newSpanID()
}

func (idGenerator) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return newSpanID() }

func newTraceID() trace.TraceID { return traceIDOf(rand.Uint64(), rand.Uint64()) }

// traceIDOf is the trace id of two halves, the last read big-endian as
// a ratio sampler reads it; never the invalid zero id.
func traceIDOf(hi, lo uint64) trace.TraceID {
	var tid trace.TraceID
	binary.BigEndian.PutUint64(tid[:8], hi)
	binary.BigEndian.PutUint64(tid[8:], lo)
	if !tid.IsValid() {
		tid[0] = 1
	}
	return tid
}

func newSpanID() trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() {
		binary.NativeEndian.PutUint64(sid[:], rand.Uint64())
	}
	return sid
}
