package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/jwt-authz/jwt-authz/config"
	"github.com/jwt-authz/jwt-authz/extauthz"
	"github.com/jwt-authz/jwt-authz/internal/logthrottle"
	"github.com/jwt-authz/jwt-authz/tracing"
)

// tracingShutdownTimeout bounds how long the spans still buffered at
// shutdown may take to be sent.
const tracingShutdownTimeout = 5 * time.Second

// startTracing builds the trace pipeline of cfg: nil when tracing is off,
// and then nothing of it is built or started. lookup reads the OTEL_*
// variables that the config's keys leave unset.
func startTracing(ctx context.Context, cfg *config.Config, lookup func(string) (string, bool), log *slog.Logger) (*tracing.Provider, error) {
	tc := cfg.Tracing
	if !tc.Enabled {
		return nil, nil
	}
	p, err := tracing.New(ctx, tracing.Options{
		Endpoint:       tc.Endpoint,
		Protocol:       tc.Protocol,
		SampleRatio:    tc.SampleRatio,
		ServiceVersion: version,
		Lookup:         lookup,
	})
	if err != nil {
		return nil, err
	}
	// The SDK reports export failures (an unreachable collector) through
	// its global handler: one warning per run of them, not one per batch.
	failures := logthrottle.New(log, slog.LevelWarn, "trace export failed")
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { failures.Error(err) }))
	log.Info("tracing on", "endpoint", orOTEL(tc.Endpoint), "protocol", orOTEL(tc.Protocol), "sample_ratio", sampleRatioText(tc.SampleRatio))
	return p, nil
}

func orOTEL(v string) string {
	if v == "" {
		return "(OTEL_* or default)"
	}
	return v
}

func sampleRatioText(r *float64) string {
	if r == nil {
		return "(OTEL_TRACES_SAMPLER or default)"
	}
	return fmt.Sprint(*r)
}

// stopTracing sends the spans still buffered and stops the exporter.
func stopTracing(p *tracing.Provider, log *slog.Logger) {
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownTimeout)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		log.Warn("spans not sent at shutdown", "err", err)
	}
}

// checkTracer is what the Check server traces with: nil, not a nil
// pointer in an interface, when tracing is off.
func checkTracer(p *tracing.Provider) extauthz.Tracer {
	if p == nil {
		return nil
	}
	return p
}

// ownTracer is the tracer of jwt-authz's other spans (JWKS fetches); nil
// when tracing is off.
func ownTracer(p *tracing.Provider) trace.Tracer {
	if p == nil {
		return nil
	}
	return p.Tracer()
}

// traceRedis records a span for every Redis round trip of client: the
// command's name and the server, never its arguments (revoked ids,
// session records). Off when p is nil.
func traceRedis(client goredis.UniversalClient, p *tracing.Provider) error {
	if p == nil {
		return nil
	}
	if err := redisotel.InstrumentTracing(client,
		redisotel.WithTracerProvider(p.TracerProvider()),
		redisotel.WithDBStatement(false),
		redisotel.WithCallerEnabled(false),
	); err != nil {
		return fmt.Errorf("tracing: redis: %w", err)
	}
	return nil
}
