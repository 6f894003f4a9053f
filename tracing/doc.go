// Package tracing builds jwt-authz's OpenTelemetry trace pipeline: the SDK
// tracer provider, its OTLP exporter (gRPC or HTTP), a parent-based
// sampler, and the propagators that join a caller's trace (W3C
// traceparent/tracestate and B3, single and multiple headers, as Envoy and
// Istio send them).
//
// Nothing here runs until New is called: with tracing off, the process
// starts no exporter, no batch goroutine and no connection. Packages that
// record spans depend only on the OpenTelemetry API (a trace.Tracer,
// nil when tracing is off), never on this package's SDK types; the Check
// server takes a *Provider through a small interface so that its hot path
// can ask whether a span would be sampled before it starts one.
//
// A Provider is safe for concurrent use.
package tracing
