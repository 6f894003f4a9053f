package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// grpcMetrics are the gRPC server metrics: handled calls by method and
// code, and handling time by method.
type grpcMetrics struct {
	handled  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// The Check method's series, resolved once: it is every request.
	checkOK       prometheus.Counter
	checkDuration prometheus.Observer
}

const checkMethod = "/envoy.service.auth.v3.Authorization/Check"

func newGRPCMetrics(reg prometheus.Registerer) *grpcMetrics {
	m := &grpcMetrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jwt_authz_grpc_server_handled_total",
			Help: "gRPC calls completed, by full method and status code.",
		}, []string{"grpc_method", "grpc_code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "jwt_authz_grpc_server_handling_seconds",
			Help:    "gRPC handling time, by full method.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1},
		}, []string{"grpc_method"}),
	}
	reg.MustRegister(m.handled, m.duration)
	m.checkOK = m.handled.WithLabelValues(checkMethod, "OK")
	m.checkDuration = m.duration.WithLabelValues(checkMethod)
	return m
}

func (m *grpcMetrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	if info.FullMethod == checkMethod && err == nil {
		m.checkDuration.Observe(time.Since(start).Seconds())
		m.checkOK.Inc()
		return resp, nil
	}
	m.duration.WithLabelValues(info.FullMethod).Observe(time.Since(start).Seconds())
	m.handled.WithLabelValues(info.FullMethod, status.Code(err).String()).Inc()
	return resp, err
}
