// Command authzbench measures ext_authz servers on loopback against a
// floor, a stock grpc-go server that allows everything, and drives them
// the way one Envoy worker does: Envoy-shaped CheckRequests over one gRPC
// connection. It reads servers' CPU time and memory from /proc, so it runs
// on Linux. BENCHMARKS.md at the root of the repository describes the
// method and holds the results. It only talks to loopback addresses: it
// is a load generator, and the floor lets every request in.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"gopkg.in/yaml.v3"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// commands are the subcommands, listed in usage.
var commands = map[string]func(ctx context.Context, log *slog.Logger, args []string, stdout, stderr io.Writer) error{
	"gen":         runGen,
	"floor":       runFloor,
	"load":        runLoadCmd,
	"revoke-load": runRevokeLoadCmd,
	"suite":       runSuiteCmd,
	"scale":       runScaleCmd,
}

const usage = `authzbench measures ext_authz servers on loopback.

Usage:
  authzbench gen --out DIR [--tokens N]           keys, jwks.json, config.yaml and token files
  authzbench floor [--addr 127.0.0.1:0]           the allow-all floor server; prints its address
  authzbench load --target ADDR --tokens FILE     drive a server (closed or open loop)
  authzbench revoke-load --admin ADDR --count N   load revocations through the admin API
  authzbench suite [--dir DIR] [--server-cmd CMD] the whole A/B matrix against the floor
  authzbench scale --redis ADDR [--replicas N]    replicas following one Redis: propagation and cost

Run "authzbench COMMAND -h" for a command's flags.
`

// run executes one command and returns the exit status: 2 for a mistake
// on the command line, 1 for a failure.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "authzbench: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	err := cmd(ctx, slog.New(slog.NewTextHandler(stderr, nil)), args[1:], stdout, stderr)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "authzbench %s: %v\n", args[0], err)
	if errors.As(err, new(usageError)) {
		return 2
	}
	return 1
}

// usageError marks a mistake on the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// newFlags returns an empty flag set for a command.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses a command's flags; a bad flag or an argument left over
// is a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// errNotLoopback refuses an address outside 127.0.0.0/8, ::1 and localhost.
var errNotLoopback = errors.New("not a loopback address (only 127.0.0.0/8, ::1 and localhost are allowed)")

// checkLoopback accepts a host:port whose host is a loopback IP address or
// "localhost". An empty host is refused: for a listener it would mean every
// interface. So are zones ("::1%lo"), which net.ParseIP does not parse.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if port == "" {
		return fmt.Errorf("address %q: missing port", addr)
	}
	if ip := net.ParseIP(host); !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("address %q: %w", addr, errNotLoopback)
	}
	return nil
}

// freeLoopbackAddrs returns n distinct 127.0.0.1 addresses whose ports were
// free a moment ago: all n are held open until the last is found. Another
// process may take one before the server binds it; the server then fails
// to start, which the suite reports.
func freeLoopbackAddrs(n int) ([]string, error) {
	addrs := make([]string, n)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer ln.Close()
		addrs[i] = ln.Addr().String()
	}
	return addrs, nil
}

// allowAll is the floor: a stock grpc-go ext_authz server that allows every
// request without looking at it. No authorizer does less work per Check,
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

func runFloor(ctx context.Context, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("floor", stderr)
	addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on")
	cfg := fs.String("config", "", "listen on the grpc_addr of this jwt-authz config instead, to stand in for the server")
	if err := parseFlags(fs, args); err != nil {
		return err
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
		return err
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, ln.Addr()) // alone on the first line, for scripts
	return serveGRPC(ctx, newFloorServer(), ln)
}

// serveGRPC serves s on ln until ctx is done.
func serveGRPC(ctx context.Context, s *grpc.Server, ln net.Listener) error {
	defer context.AfterFunc(ctx, s.Stop)()
	if err := s.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// serverAddrs are what the suite reads from a jwt-authz config.
type serverAddrs struct {
	GRPCAddr       string `yaml:"grpc_addr"`
	AdminAddr      string `yaml:"admin_addr"`
	AdminTokenFile string `yaml:"admin_token_file"`
	AdminToken     string `yaml:"-"` // the contents of AdminTokenFile
}

// readServerAddrs reads grpc_addr, admin_addr and the admin token of a
// jwt-authz config, with jwt-authz's defaults for absent addresses, and
// refuses addresses that are not loopback.
func readServerAddrs(path string) (serverAddrs, error) {
	a := serverAddrs{GRPCAddr: "127.0.0.1:9001", AdminAddr: "127.0.0.1:9090"}
	b, err := os.ReadFile(path)
	if err == nil {
		err = yaml.Unmarshal(b, &a)
	}
	if err == nil {
		a.AdminToken, err = readAdminToken(a.AdminTokenFile)
	}
	if err == nil {
		err = errors.Join(checkLoopback(a.GRPCAddr), checkLoopback(a.AdminAddr))
	}
	if err != nil {
		return serverAddrs{}, fmt.Errorf("config %s: %w", path, err)
	}
	return a, nil
}
