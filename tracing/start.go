package tracing

import (
	"context"
	"encoding/binary"
	"math/rand/v2"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// RootBound is the bound under which the low half of a new trace's id
// (its last 8 bytes, big-endian, shifted right by one, as a ratio sampler
// reads them) must fall for the sampler to sample the trace. A caller that
// draws that half at random and finds it at or above the bound knows the
// trace would be dropped, and need not ask: for 99 % of the requests at a
// 1 % ratio, a request without a caller's trace then costs one random
// number. The bound is never below the sampler's own (see rootBound).
func (p *Provider) RootBound() uint64 { return p.rootBound }

// StartRoot starts the span of a new trace named name, of the given kind,
// when the sampler samples it, and otherwise returns ctx and a nil span.
// lo is the low half of the trace's id, drawn uniformly at random by the
// caller (see RootBound); the rest of the id is drawn here. The span is a
// root whatever ctx holds.
func (p *Provider) StartRoot(ctx context.Context, name string, kind trace.SpanKind, lo uint64) (context.Context, trace.Span) {
	if lo>>1 >= p.rootBound {
		return ctx, nil
	}
	tid := traceIDOf(rand.Uint64(), lo)
	params := sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: tid, Name: name, Kind: kind}
	if p.sampler.ShouldSample(params).Decision == sdktrace.Drop {
		return ctx, nil
	}
	// The SDK draws the trace id again when it starts the span; it must be
	// the one just sampled, or a ratio sampler would decide anew.
	ctx = context.WithValue(ctx, traceIDKey{}, tid)
	return p.check.Start(ctx, name, trace.WithSpanKind(kind), trace.WithNewRoot())
}

// StartChild starts a span named name, of the given kind, as the child of
// the caller's span context in ctx (a propagator extracted it), when the
// sampler would record it: with a parent-based sampler, exactly when the
// caller sampled its trace. Otherwise it returns ctx and a nil span. A ctx
// without a valid span context starts a new trace as StartRoot does.
func (p *Provider) StartChild(ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	psc := trace.SpanContextFromContext(ctx)
	if !psc.IsValid() {
		return p.StartRoot(ctx, name, kind, rand.Uint64())
	}
	params := sdktrace.SamplingParameters{ParentContext: ctx, TraceID: psc.TraceID(), Name: name, Kind: kind}
	if p.sampler.ShouldSample(params).Decision == sdktrace.Drop {
		return ctx, nil
	}
	return p.check.Start(ctx, name, trace.WithSpanKind(kind))
}

// traceIDKey keys the trace id StartRoot chose for a new trace.
type traceIDKey struct{}

// idGenerator draws random ids like the SDK's own, except that a new
// trace takes the id StartRoot put in the context.
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
