package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Protocols of the OTLP exporter.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// DefaultSampleRatio is the fraction of new traces sampled when neither
// Options.SampleRatio nor OTEL_TRACES_SAMPLER says otherwise.
const DefaultSampleRatio = 0.01

// ServiceName is the service.name of the spans, unless OTEL_SERVICE_NAME
// or OTEL_RESOURCE_ATTRIBUTES names another.
const ServiceName = "jwt-authz"

// Options configure a Provider. A zero field gives way to the standard
// OTEL_* environment variables; a set field wins over them.
type Options struct {
	// Endpoint is the OTLP receiver: host:port (plain text) or an http://
	// or https:// URL. "" = OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_EXPORTER_OTLP_ENDPOINT, else localhost:4317 (grpc) or
	// localhost:4318 (http/protobuf).
	Endpoint string
	// Protocol is ProtocolGRPC or ProtocolHTTP. "" =
	// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL,
	// else grpc.
	Protocol string
	// SampleRatio, when set, samples that fraction of new traces and
	// continues every caller's sampled trace (parent-based). nil =
	// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, else
	// DefaultSampleRatio, parent-based.
	SampleRatio *float64
	// ServiceVersion is the service.version resource attribute.
	ServiceVersion string
	// Lookup reads environment variables; nil = os.LookupEnv.
	Lookup func(string) (string, bool)
	// Exporter, when set, receives the spans instead of an OTLP exporter,
	// synchronously (tests use the SDK's in-memory exporter).
	Exporter sdktrace.SpanExporter
}

// Provider is a running trace pipeline: an SDK tracer provider with its
// exporter and sampler. Shut it down to flush the spans it still holds.
type Provider struct {
	tp      *sdktrace.TracerProvider
	sampler sdktrace.Sampler
	// rootBound spares the sampler the new traces it drops at once (see
	// rootBound).
	rootBound uint64
	check     trace.Tracer
	// kindOptions are the start options of each span kind (see
	// startOptions).
	kindOptions [trace.SpanKindConsumer + 1][]trace.SpanStartOption
}

// New builds the trace pipeline of opts and starts its exporter. ctx
// bounds the exporter's setup only; the gRPC exporter connects lazily, so
// an unreachable collector does not hold up the start (spans that cannot
// be sent are dropped, and the SDK reports the failure).
func New(ctx context.Context, opts Options) (*Provider, error) {
	if opts.Lookup == nil {
		opts.Lookup = os.LookupEnv
	}
	sampler, bound, err := newSampler(opts.SampleRatio, opts.Lookup)
	if err != nil {
		return nil, err
	}
	res, err := newResource(ctx, opts.ServiceVersion)
	if err != nil {
		return nil, err
	}
	tpOpts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sampler),
		sdktrace.WithIDGenerator(idGenerator{}),
		sdktrace.WithResource(res),
	}
	if opts.Exporter != nil {
		tpOpts = append(tpOpts, sdktrace.WithSyncer(opts.Exporter))
	} else {
		exp, err := newExporter(ctx, opts.Endpoint, opts.Protocol, opts.Lookup)
		if err != nil {
			return nil, err
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)
	return &Provider{tp: tp, sampler: sampler, rootBound: bound, check: tp.Tracer(instrumentation), kindOptions: kindOptions()}, nil
}

// instrumentation names the tracer of jwt-authz's own spans.
const instrumentation = "github.com/jwt-authz/jwt-authz"

// newResource describes the process: service.name and service.version,
// then what OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES say.
func newResource(ctx context.Context, version string) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{attribute.String("service.name", ServiceName)}
	if version != "" {
		attrs = append(attrs, attribute.String("service.version", version))
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(attrs...),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	return res, nil
}

// TracerProvider is the provider packages start their spans from.
func (p *Provider) TracerProvider() trace.TracerProvider { return p.tp }

// Tracer is jwt-authz's own tracer.
func (p *Provider) Tracer() trace.Tracer { return p.check }

// Shutdown exports the spans still buffered and stops the exporter; ctx
// bounds how long that may take. Spans started afterwards are dropped.
func (p *Provider) Shutdown(ctx context.Context) error {
	if err := p.tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}
