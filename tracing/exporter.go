package tracing

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// protocol is the exporter's protocol: the option when set, else the
// standard variables, else grpc.
func protocol(opt string, lookup func(string) (string, bool)) (string, error) {
	p := opt
	for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p != "" {
			break
		}
		if s, ok := lookup(v); ok {
			p = strings.TrimSpace(s)
		}
	}
	switch p {
	case "":
		return ProtocolGRPC, nil
	case ProtocolGRPC, ProtocolHTTP:
		return p, nil
	}
	return "", fmt.Errorf("tracing: OTLP protocol must be %s or %s, not %q", ProtocolGRPC, ProtocolHTTP, p)
}

// newExporter builds the OTLP exporter. An endpoint that is set wins over
// OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, which the exporter reads itself
// otherwise, as it reads the other OTEL_EXPORTER_OTLP_* variables
// (headers, certificates, timeout, compression) in every case.
func newExporter(ctx context.Context, endpoint, proto string, lookup func(string) (string, bool)) (sdktrace.SpanExporter, error) {
	proto, err := protocol(proto, lookup)
	if err != nil {
		return nil, err
	}
	isURL := strings.Contains(endpoint, "://")
	if proto == ProtocolGRPC {
		var opts []otlptracegrpc.Option
		switch {
		case isURL:
			opts = append(opts, otlptracegrpc.WithEndpointURL(endpoint))
		case endpoint != "":
			opts = append(opts, otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure())
		}
		exp, err := otlptracegrpc.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP/gRPC exporter: %w", err)
		}
		return exp, nil
	}
	var opts []otlptracehttp.Option
	switch {
	case isURL:
		u, err := url.Parse(endpoint)
		if err != nil {
			return nil, fmt.Errorf("tracing: endpoint: %w", err)
		}
		if u.Path == "" || u.Path == "/" {
			// A base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is: the traces
			// path follows it.
			u.Path = "/v1/traces"
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
	case endpoint != "":
		opts = append(opts, otlptracehttp.WithEndpoint(endpoint), otlptracehttp.WithInsecure())
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP/HTTP exporter: %w", err)
	}
	return exp, nil
}
