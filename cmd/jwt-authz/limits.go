package main

import (
	"fmt"
	"net/http"
	"runtime"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/jwt-authz/jwt-authz/backchannel"
	"github.com/jwt-authz/jwt-authz/config"
	"github.com/jwt-authz/jwt-authz/revocation/adminapi"
)

// grpcServerOptions are the gRPC server's limits (from the grpc section)
// and its tuning. serve adds the Check codec and interceptors.
func grpcServerOptions(g config.GRPC) []grpc.ServerOption {
	return []grpc.ServerOption{
		// Envoy multiplexes every Check of a worker thread on one
		// connection and opens another when this limit is reached; the cap
		// bounds what one connection can hold in flight.
		grpc.MaxConcurrentStreams(uint32(g.MaxConcurrentStreams)),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             g.KeepaliveMinTime,
			PermitWithoutStream: g.KeepalivePermitWithoutStreamOrDefault(),
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:             g.KeepaliveTime,
			Timeout:          g.KeepaliveTimeout,
			MaxConnectionAge: g.MaxConnectionAge, // 0: unlimited
		}),
		grpc.MaxRecvMsgSize(g.MaxRecvMsgBytes),
		// Fixed flow-control windows, larger than any Check, turn off
		// grpc-go's bandwidth-delay estimation, which otherwise sends a
		// PING (and reads its ack) for nearly every Check when they are
		// small and evenly spread, as Envoy sends them: about a quarter of
		// the server's CPU per Check at a steady rate, and most of its
		// latency tail. The windows are credit, not buffers.
		grpc.InitialWindowSize(serverStreamWindow),
		grpc.InitialConnWindowSize(serverConnWindow),
		// A pool of warm stream workers instead of a new goroutine (whose
		// stack grows again while verifying) for every Check. The pool hands
		// a stream to the worker that has waited longest, so with many its
		// stack has left the CPU's caches: 64 measured about 14 % fewer
		// Checks per CPU-second at concurrency 1 than four per core, and
		// four per core about 10 % fewer new tokens per CPU-second at 64 in
		// flight, where most streams found no free worker. Sixteen per
		// core measured as well as the better of the two in both cases.
		grpc.NumStreamWorkers(uint32(16 * runtime.GOMAXPROCS(0))),
	}
}

// The gRPC server's flow-control windows: a stream's, and the
// connection's, shared by the Checks one Envoy worker has in flight.
const (
	serverStreamWindow = 1 << 20
	serverConnWindow   = 4 << 20
)

// Limits of the admin listener. They are fixed: the listener is private,
// and a CPU profile (/admin/debug/pprof/profile, 30 s by default) needs the
// long write timeout.
const (
	adminReadHeaderTimeout = 5 * time.Second
	adminReadTimeout       = 30 * time.Second
	adminWriteTimeout      = 60 * time.Second
	adminIdleTimeout       = 2 * time.Minute
	adminMaxHeaderBytes    = 64 << 10
	adminMaxBodyBytes      = 64 << 10
)

// newHTTPServer returns the server of http_addr with the limits of the
// http section.
func newHTTPServer(h http.Handler, l config.HTTP) *http.Server {
	return &http.Server{
		Handler:           limitBody(h, int64(l.MaxBodyBytes)),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// newAdminServer returns the server of admin_addr with its fixed limits.
func newAdminServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           adminLimitBody(h),
		ReadHeaderTimeout: adminReadHeaderTimeout,
		ReadTimeout:       adminReadTimeout,
		WriteTimeout:      adminWriteTimeout,
		IdleTimeout:       adminIdleTimeout,
		MaxHeaderBytes:    adminMaxHeaderBytes,
	}
}

// adminLimitBody is limitBody with adminMaxBodyBytes, but
// adminapi.MaxSessionsBodyBytes for a session-set revocation, whose body
// lists up to ten million sessions.
func adminLimitBody(h http.Handler) http.Handler {
	small, large := limitBody(h, adminMaxBodyBytes), limitBody(h, adminapi.MaxSessionsBodyBytes)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/admin/revocations/sessions" {
			large.ServeHTTP(w, r)
			return
		}
		small.ServeHTTP(w, r)
	})
}

// limitBody bounds the request body of every endpoint: a declared length
// over limit is answered 413 before any handler runs, and a body sent
// without a length stops at limit (the handlers that read one answer 413
// then). Endpoints that read a body may set a smaller limit of their own.
// The back-channel logout endpoint answers every bad request, an oversized
// body included, with its own 400, so the declared length is left to it.
func limitBody(h http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit && r.URL.Path != backchannel.Path {
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestEntityTooLarge, "invalid_request", fmt.Sprintf("the request body exceeds %d bytes", limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		h.ServeHTTP(w, r)
	})
}
