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
// it starts a span (see StartRoot), so the sampler is built here rather
// than left to the SDK's own reading of the environment; the names are
// the standard ones, each mapped to the SDK's sampler of that name.
//
// It also returns the sampler's root bound (see rootBound).
func newSampler(ratio *float64, lookup func(string) (string, bool)) (sdktrace.Sampler, uint64, error) {
	s, root, err := samplerOf(ratio, lookup)
	return s, rootBound(root), err
}

// The root sampler of a sampler built here: a fraction of new traces,
// or all of them (ratio 1).
func samplerOf(ratio *float64, lookup func(string) (string, bool)) (sdktrace.Sampler, float64, error) {
	if ratio != nil {
		if !(*ratio >= 0 && *ratio <= 1) {
			return nil, 0, fmt.Errorf("tracing: sample ratio must be between 0 and 1, not %v", *ratio)
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*ratio)), *ratio, nil
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
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(DefaultSampleRatio)), DefaultSampleRatio, nil
	case "always_on":
		return sdktrace.AlwaysSample(), 1, nil
	case "always_off":
		return sdktrace.NeverSample(), 0, nil
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), 1, nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), 0, nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := arg()
		if err != nil {
			return nil, 0, err
		}
		if name == "traceidratio" {
			return sdktrace.TraceIDRatioBased(r), r, nil
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), r, nil
	}
	return nil, 0, fmt.Errorf("tracing: OTEL_TRACES_SAMPLER %q is not supported; use always_on, always_off, traceidratio or their parentbased_ forms", name)
}

// rootBound is a bound on what a new trace's id must have, read as the
// ratio sampler reads it (the last 8 bytes, big-endian, shifted right by
// one), for the sampler to sample the trace: an id at or above it is
// dropped by a root sampler of the given ratio. The bound is a little
// above the sampler's own, so that it only ever spares the sampler a call
// for an id it would drop; the sampler decides the rest (see StartRoot).
func rootBound(ratio float64) uint64 {
	const all = 1 << 63
	switch {
	case ratio >= 1:
		return all
	case ratio <= 0:
		return 0
	}
	b := ratio*all*(1+1e-9) + 1
	if b >= all {
		return all
	}
	return uint64(b)
}
