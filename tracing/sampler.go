package tracing

import (
	"fmt"
	"strconv"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// newSampler returns the sampler of ratio when it is set, else the one
// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG name, else a
// parent-based DefaultSampleRatio. The Check path asks the sampler before
// it starts a span (see StartSampled), so the sampler is built here rather
// than left to the SDK's own reading of the environment; the names are
// the standard ones, each mapped to the SDK's sampler of that name.
func newSampler(ratio *float64, lookup func(string) (string, bool)) (sdktrace.Sampler, error) {
	if ratio != nil {
		if !(*ratio >= 0 && *ratio <= 1) {
			return nil, fmt.Errorf("tracing: sample ratio must be between 0 and 1, not %v", *ratio)
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*ratio)), nil
	}
	name, _ := lookup("OTEL_TRACES_SAMPLER")
	name = strings.ToLower(strings.TrimSpace(name))
	arg := func() (float64, error) {
		s, ok := lookup("OTEL_TRACES_SAMPLER_ARG")
		if !ok || strings.TrimSpace(s) == "" {
			return 1, nil // the standard default of the ratio samplers
		}
		r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || !(r >= 0 && r <= 1) {
			return 0, fmt.Errorf("tracing: OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, not %q", s)
		}
		return r, nil
	}
	switch name {
	case "":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(DefaultSampleRatio)), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := arg()
		if err != nil {
			return nil, err
		}
		if name == "traceidratio" {
			return sdktrace.TraceIDRatioBased(r), nil
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
	}
	return nil, fmt.Errorf("tracing: OTEL_TRACES_SAMPLER %q is not supported; use always_on, always_off, traceidratio or their parentbased_ forms", name)
}
