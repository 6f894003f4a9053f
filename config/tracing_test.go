package config

import "testing"

func TestTracingEndpoint(t *testing.T) {
	tests := map[string]struct {
		endpoint string
		ok       bool
	}{
		"host and port":    {"otel-collector:4317", true},
		"ip and port":      {"10.0.0.1:4318", true},
		"http url":         {"http://otel-collector:4318/v1/traces", true},
		"https url":        {"https://otel.example.com", true},
		"no port":          {"otel-collector", false},
		"port zero":        {"otel-collector:0", false},
		"named port":       {"otel-collector:otlp", false},
		"empty host":       {":4317", false},
		"grpc scheme":      {"grpc://otel-collector:4317", false},
		"url without host": {"http:///v1/traces", false},
		"url with user":    {"https://user:secret@otel.example.com", false},
		"url with query":   {"https://otel.example.com/v1/traces?x=1", false},
		"unparseable url":  {"http://[::1", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			msg := tracingEndpointProblem(tc.endpoint)
			if (msg == "") != tc.ok {
				t.Fatalf("tracingEndpointProblem(%q) = %q, want ok=%v", tc.endpoint, msg, tc.ok)
			}
		})
	}
}

func TestTracingUnsetKeysStayUnset(t *testing.T) {
	c, err := Parse([]byte("tracing:\n  enabled: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	// Unset keys give way to the OTEL_* variables, so defaults must not
	// fill them in.
	if c.Tracing.Protocol != "" || c.Tracing.SampleRatio != nil || c.Tracing.Endpoint != "" || !c.Tracing.Enabled {
		t.Fatalf("tracing = %+v", c.Tracing)
	}
}
