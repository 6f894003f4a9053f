package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/jwt-authz/jwt-authz/config"
	"github.com/jwt-authz/jwt-authz/extauthz"
	"github.com/jwt-authz/jwt-authz/internal/gctune"
	"github.com/jwt-authz/jwt-authz/internal/proctune"
)

// Timeouts of the shutdown sequence.
const (
	grpcDrainTimeout = 15 * time.Second
	httpDrainTimeout = 10 * time.Second
)

// listeners are the bound sockets of a running server; metrics is nil
// unless metrics_addr is set.
type listeners struct {
	grpc, http, admin, metrics net.Listener
}

func (l *listeners) close() {
	for _, ln := range []net.Listener{l.grpc, l.http, l.admin, l.metrics} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

func listen(grpcAddr, httpAddr, adminAddr, metricsAddr string) (*listeners, error) {
	l := &listeners{}
	var err error
	if l.grpc, err = net.Listen("tcp", grpcAddr); err != nil {
		return nil, fmt.Errorf("grpc_addr: %w", err)
	}
	if l.http, err = net.Listen("tcp", httpAddr); err != nil {
		l.close()
		return nil, fmt.Errorf("http_addr: %w", err)
	}
	if l.admin, err = net.Listen("tcp", adminAddr); err != nil {
		l.close()
		return nil, fmt.Errorf("admin_addr: %w", err)
	}
	if metricsAddr != "" {
		if l.metrics, err = net.Listen("tcp", metricsAddr); err != nil {
			l.close()
			return nil, fmt.Errorf("metrics_addr: %w", err)
		}
	}
	return l, nil
}

func cmdServe(ctx context.Context, sf *serveFlags, stderr io.Writer) int {
	cfg, err := sf.load()
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		// No file to list problems of.
		fmt.Fprintf(stderr, "jwt-authz: %v\n", err)
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, "jwt-authz: the configuration is not valid:")
		printProblems(stderr, err)
		return 1
	}
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	// The process's GC headroom follows what a collection marks and the
	// rate it allocates at, unless GOGC is set, and the collector works
	// harder near the container's memory limit, unless GOMEMLIMIT is set.
	tuner := gctune.Start()
	defer tuner.Stop()
	if soft := gctune.SetMemoryLimit(); soft > 0 {
		log.Info("soft memory limit set from the container's memory limit", "bytes", soft)
	}
	// With proc_tuning auto, the scheduler runs on one P while one is
	// enough for the load and on the runtime's default otherwise, unless
	// GOMAXPROCS is set.
	var procs *proctune.Tuner
	if cfg.ProcTuning == config.ProcTuningAuto {
		procs = proctune.Start(func(n int) { log.Debug("GOMAXPROCS changed with the load", "procs", n) })
	}
	defer procs.Stop()
	if err := serve(ctx, cfg, sf.configPath, sf.lookup, log, nil); err != nil {
		log.Error("serve", "err", err)
		return 1
	}
	return 0
}

// serve runs the server until ctx ends, then shuts down in order: not
// ready, drain delay, gRPC graceful stop, HTTP shutdown, background work,
// stores. bound, when set, receives the listeners' addresses once they
// accept connections (tests listen on port 0).
func serve(ctx context.Context, cfg *config.Config, cfgPath string, lookup func(string) (string, bool), log *slog.Logger, bound chan<- [3]string) error {
	lns, err := listen(cfg.GRPCAddr, cfg.HTTPAddr, cfg.AdminAddr, cfg.MetricsAddr)
	if err != nil {
		return err
	}
	defer lns.close()
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	a, err := newApp(bg, cfg, cfgPath, lookup, log)
	if err != nil {
		return err
	}
	defer a.close()
	a.runBackground(bg)

	gs := grpc.NewServer(append(grpcServerOptions(cfg.GRPC),
		// Check requests are read in place and answers sent as bytes.
		extauthz.ServerOption(),
		grpc.ChainUnaryInterceptor(newGRPCMetrics(a.reg).unary),
	)...)
	a.authz.Register(gs)
	healthpb.RegisterHealthServer(gs, a.health.GRPC())

	httpSrv := newHTTPServer(a.httpMux(), cfg.HTTP)
	adminSrv := newAdminServer(a.adminMux())

	errc := make(chan error, 4)
	go func() { errc <- gs.Serve(lns.grpc) }()
	go func() { errc <- ignoreClosed(httpSrv.Serve(lns.http)) }()
	go func() { errc <- ignoreClosed(adminSrv.Serve(lns.admin)) }()
	metricsAddr := "(admin_addr)"
	var metricsSrv *http.Server
	if lns.metrics != nil {
		metricsSrv = newAdminServer(a.metricsMux())
		metricsAddr = lns.metrics.Addr().String()
		go func() { errc <- ignoreClosed(metricsSrv.Serve(lns.metrics)) }()
	}
	log.Info("jwt-authz serving", "version", version, "grpc_addr", lns.grpc.Addr().String(), "http_addr", lns.http.Addr().String(), "admin_addr", lns.admin.Addr().String(), "metrics_addr", metricsAddr, "providers", len(a.providers.current()), "store", cfg.Revocation.Store)
	if bound != nil {
		bound <- [3]string{lns.grpc.Addr().String(), lns.http.Addr().String(), lns.admin.Addr().String()}
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	log.Info("shutting down", "drain_delay", cfg.ShutdownDelay.String())
	a.health.Shutdown()
	if serveErr == nil && cfg.ShutdownDelay > 0 {
		// Give Envoy and Kubernetes time to see the pod as not ready before
		// connections are closed.
		time.Sleep(cfg.ShutdownDelay)
	}
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(grpcDrainTimeout):
		log.Warn("gRPC drain timed out; closing remaining streams")
		gs.Stop()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpDrainTimeout)
	defer cancel()
	_ = httpSrv.Shutdown(sctx)
	_ = adminSrv.Shutdown(sctx)
	if metricsSrv != nil {
		_ = metricsSrv.Shutdown(sctx)
	}
	stopBG()
	log.Info("stopped")
	return serveErr
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
