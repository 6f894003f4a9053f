package jwks

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// spanFetch names the span of one fetch of a remote JWKS.
const spanFetch = "jwks.fetch"

// startFetchSpan starts the span of a remote fetch, when a tracer is set;
// a fetch runs on its own goroutine, so the span starts a trace of its
// own, sampled as the tracer's sampler says.
func (s *Source) startFetchSpan(ctx context.Context, force bool) (context.Context, trace.Span) {
	if s.opts.Tracer == nil {
		return ctx, nil
	}
	return s.opts.Tracer.Start(ctx, spanFetch, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("jwt_authz.provider", s.opts.Provider),
		attribute.Bool("jwks.forced", force),
		attribute.Bool("jwks.discovery", s.opts.Discovery),
	))
}

// endFetchSpan records the fetch's outcome (success, not_modified or
// error, as jwt_authz_jwks_fetch_total counts it) and ends the span.
func endFetchSpan(span trace.Span, res fetchResult, err error) {
	if span == nil {
		return
	}
	result := resultSuccess
	switch {
	case err != nil:
		result = resultError
		span.SetStatus(codes.Error, err.Error())
	case res.notModified:
		result = resultNotModified
	}
	span.SetAttributes(attribute.String("jwks.result", result))
	span.End()
}
