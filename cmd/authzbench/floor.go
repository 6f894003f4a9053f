package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// allowAll is the floor: a stock grpc-go ext_authz server that allows every
// request without looking at it. No authorizer can do less work per Check,
// so every other server is reported as a ratio to it.
type allowAll struct {
	authv3.UnimplementedAuthorizationServer
}

// Check allows the request. It allocates its response as ordinary handler
// code does, rather than sharing one, to stay a fair baseline.
func (allowAll) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.OK)}}, nil
}

// newFloorServer returns a grpc-go server with default options serving the
// allow-all Check and grpc.health.v1 (always SERVING), by which the suite
// knows it is ready.
func newFloorServer() *grpc.Server {
	s := grpc.NewServer()
	authv3.RegisterAuthorizationServer(s, allowAll{})
	healthpb.RegisterHealthServer(s, health.NewServer())
	return s
}

func runFloor(ctx context.Context, logger *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on")
	cfg := fs.String("config", "", "listen on the grpc_addr of this jwt-authz config instead, to stand in for the server")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("floor: unexpected argument %q", fs.Arg(0))}
	}
	if *cfg != "" {
		a, err := readServerAddrs(*cfg)
		if err != nil {
			return err
		}
		*addr = a.GRPCAddr
	}
	// An allow-everything authorizer must never be reachable from the
	// network: a mesh pointed at it by mistake would let every request in.
	if err := checkLoopback(*addr); err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *addr)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	// The address alone on the first line of stdout, for scripts and the
	// suite.
	fmt.Fprintln(stdout, ln.Addr().String())
	logger.Info("floor serving", "addr", ln.Addr().String())
	return serveGRPC(ctx, newFloorServer(), ln)
}

// serveGRPC serves s on ln until ctx is done, then stops gracefully, cutting
// connections that are still busy after a few seconds.
func serveGRPC(ctx context.Context, s *grpc.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() {
		s.GracefulStop()
		close(stopped)
	}()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		s.Stop()
		<-stopped
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
