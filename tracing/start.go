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
	if trace.SpanContextFromContext(ctx).TraceID().IsValid() {
		// The SDK would continue that trace: hide it. Not on the Check
		// path, where ctx holds no trace when this is called.
		ctx = trace.ContextWithSpanContext(ctx, trace.SpanContext{})
	}
	// The SDK draws the trace id again when it starts the span; it must be
	// the one just sampled, or a ratio sampler would decide anew. The
	// idGenerator takes it from the context, which this Start call alone
	// sees: ctx holds no trace, so no trace.WithNewRoot, and the SDK hands
	// the context to the generator as it is given.
	return p.check.Start(&rootContext{Context: ctx, tid: tid}, name, p.startOptions(kind)...)
}

// startOptions are the options of a span of kind, built once: options
// passed as a new slice would be allocated on every call.
func (p *Provider) startOptions(kind trace.SpanKind) []trace.SpanStartOption {
	if int(kind) < len(p.kindOptions) {
		return p.kindOptions[kind]
	}
	return []trace.SpanStartOption{trace.WithSpanKind(kind)}
}

// kindOptions returns the start options of each span kind, by kind.
func kindOptions() [trace.SpanKindConsumer + 1][]trace.SpanStartOption {
	var opts [trace.SpanKindConsumer + 1][]trace.SpanStartOption
	for k := range opts {
		opts[k] = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKind(k))}
	}
	return opts
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
	return p.check.Start(ctx, name, p.startOptions(kind)...)
}

// rootContext is the context StartRoot starts a new trace in: ctx and the
// trace id the sampler decided on. It is one allocation where a
// context.WithValue holding the id would be two.
type rootContext struct {
	context.Context
	tid trace.TraceID
}

// idGenerator draws random ids like the SDK's own, except that a new
// trace started by StartRoot takes the id StartRoot chose. Only the
// context StartRoot made carries it: contexts derived from it (the
// span's own, holding the span) do not, so a later new trace started
// from one of them draws an id of its own.
type idGenerator struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if rc, ok := ctx.(*rootContext); ok && rc.tid.IsValid() {
		return rc.tid, newSpanID()
	}
	return newTraceID(), newSpanID()
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
