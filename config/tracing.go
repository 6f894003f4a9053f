package config

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Tracing protocols (tracing.protocol).
const (
	TracingProtocolGRPC = "grpc"
	TracingProtocolHTTP = "http/protobuf"
)

// DefaultTracingSampleRatio is the fraction of new traces sampled when
// neither tracing.sample_ratio nor OTEL_TRACES_SAMPLER says otherwise.
const DefaultTracingSampleRatio = 0.01

// Tracing configures OpenTelemetry traces. A key left unset gives way to
// the standard OTEL_* environment variables (OTEL_EXPORTER_OTLP_ENDPOINT,
// OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_TRACES_SAMPLER, ...); a key that is set
// wins over them.
type Tracing struct {
	Enabled bool `yaml:"enabled"`
	// Endpoint is the OTLP receiver: host:port (plain text) or an http://
	// or https:// URL. "" = the OTEL_* variables, else the exporter's
	// default (localhost:4317 for grpc, localhost:4318 for http/protobuf).
	Endpoint string `yaml:"endpoint"`
	// Protocol is grpc or http/protobuf; "" = OTEL_EXPORTER_OTLP_PROTOCOL
	// (or its _TRACES_ form), else grpc.
	Protocol string `yaml:"protocol"`
	// SampleRatio is the fraction of new traces sampled, parent-based: a
	// caller's sampled trace is always continued. nil = OTEL_TRACES_SAMPLER
	// when set, else DefaultTracingSampleRatio.
	SampleRatio *float64 `yaml:"sample_ratio"`
}

func (c *Config) validateTracing(p *problems) {
	t := c.Tracing
	if t.Protocol != "" {
		oneOf(p, "tracing.protocol", t.Protocol, TracingProtocolGRPC, TracingProtocolHTTP)
	}
	if t.SampleRatio != nil && !(*t.SampleRatio >= 0 && *t.SampleRatio <= 1) {
		p.add("tracing.sample_ratio", "must be between 0 and 1, not %v", *t.SampleRatio)
	}
	if t.Endpoint != "" {
		if msg := tracingEndpointProblem(t.Endpoint); msg != "" {
			p.add("tracing.endpoint", "%s", msg)
		}
	}
}

// tracingEndpointProblem describes what is wrong with an OTLP endpoint, or
// returns "".
func tracingEndpointProblem(e string) string {
	if strings.Contains(e, "://") {
		u, err := url.Parse(e)
		switch {
		case err != nil:
			return "must be host:port or an http:// or https:// URL: " + err.Error()
		case u.Scheme != "http" && u.Scheme != "https":
			return "must be host:port or an http:// or https:// URL, not a " + quote(u.Scheme) + " URL"
		case u.Host == "":
			return "the URL has no host"
		case u.User != nil:
			return "must not carry credentials; use OTEL_EXPORTER_OTLP_HEADERS"
		case u.RawQuery != "" || u.Fragment != "":
			return "must not have a query or fragment"
		}
		return ""
	}
	host, port, err := net.SplitHostPort(e)
	if err != nil || host == "" {
		return "must be host:port or an http:// or https:// URL, not " + quote(e)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "the port must be a number from 1 to 65535, not " + quote(port)
	}
	return ""
}
