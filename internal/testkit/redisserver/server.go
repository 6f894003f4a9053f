package redisserver

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// AddrEnv names the environment variable holding the address of an
// externally managed Redis for Shared.
const AddrEnv = "JWT_AUTHZ_REDIS_ADDR"

// startTimeout bounds how long a starting server may take to answer PING.
const startTimeout = 10 * time.Second

// Server is a redis-server child process.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	// busPort is a Cluster node's bus port, picked free like port:
	// Redis's default of port+10000 may be taken, or beyond 65535.
	busPort int
	pre     []string // arguments before the defaults (a config file)
	args    []string
	tls     *TLS // nil: plain TCP
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
}

// New starts a redis-server for the test and stops it in t.Cleanup. Extra
// arguments are passed to redis-server after the defaults (for example
// "--requirepass", "secret"). It skips the test when redis-server is not
// installed, or fails it when the CI environment variable is set.
func New(t testing.TB, args ...string) *Server {
	t.Helper()
	return newServer(t, lookPath(t, "redis-server", "redis-server"), nil, args, nil)
}

// NewTLSServer is New with TLS only, on the certificate of x: the port
// Addr names speaks TLS, and there is no plain port.
func NewTLSServer(t testing.TB, x *TLS, args ...string) *Server {
	t.Helper()
	return newServer(t, lookPath(t, "redis-server", "redis-server"), nil, args, x)
}

// lookPath finds a binary, or skips the test (fails it in CI).
func lookPath(t testing.TB, name, pkg string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found in PATH (required in CI): %v", name, err)
		}
		t.Skipf("%s not found in PATH; install it (e.g. apt-get install %s) to run this test: %v", name, pkg, err)
	}
	return bin
}

func newServer(t testing.TB, bin string, pre, args []string, x *TLS) *Server {
	t.Helper()
	s := &Server{t: t, bin: bin, dir: t.TempDir(), pre: pre, args: args, tls: x}
	t.Cleanup(s.Stop)
	// A free port is picked by binding :0 and releasing it; another
	// process may take it in between, so try a few.
	var lastErr error
	for range 5 {
		s.port, lastErr = freePort()
		if lastErr != nil {
			continue
		}
		if slices.Contains(args, "--cluster-enabled") {
			if s.busPort, lastErr = freePort(); lastErr != nil {
				continue
			}
		}
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("start redis-server: %v", lastErr)
	return nil
}

// Shared returns the address of the Redis named by JWT_AUTHZ_REDIS_ADDR,
// or else starts a private server for the test (see New). A shared server
// is used by other tests at the same time: never flush it; isolate by key
// prefix instead.
func Shared(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv(AddrEnv); addr != "" {
		return addr
	}
	return New(t).Addr()
}

// Addr returns the server's host:port.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Start starts the server again on the same port, empty (see start). It
// fails the test if the server cannot start. Starting a running server
// does nothing.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("restart redis-server on port %d: %v", s.port, err)
	}
}

// Stop kills the server and waits for it to exit. Stopping a stopped
// server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// start starts the server unless it runs. It starts empty: servers never
// save (--save ""), but a replica writes the dataset its primary sends it
// at a full resynchronisation to dump.rdb, which a restart would load
// (a replica promoted and then "restarted empty" would come back with its
// last copy); so the snapshots are removed first. A Cluster node keeps its
// nodes.conf.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	if err := removeSnapshots(s.dir); err != nil {
		return err
	}
	out := &testkit.LogBuffer{} // the server's output, for error messages
	args := []string{
		"--port", strconv.Itoa(s.port),
	}
	if s.tls != nil {
		args = append([]string{"--port", "0", "--tls-port", strconv.Itoa(s.port)}, s.tls.serverArgs()...)
	}
	args = append(args,
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--protected-mode", "no",
		"--loglevel", "warning",
	)
	if s.busPort != 0 {
		args = append(args, "--cluster-port", strconv.Itoa(s.busPort))
	}
	all := append(append(append([]string{}, s.pre...), args...), s.args...)
	cmd := exec.Command(s.bin, all...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	if err := waitReady(s.Addr(), s.tls.clientConfig(), exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("%w; server output: %s", err, out.String())
	}
	s.cmd, s.exited = cmd, exited
	return nil
}

// removeSnapshots removes the RDB files in dir: dump.rdb and the
// temp-*.rdb of a transfer cut short.
func removeSnapshots(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.rdb"))
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the snapshot %s: %w", f, err)
		}
	}
	return nil
}

// waitReady waits until the server at addr answers PING, over TLS with
// tc when it is not nil.
func waitReady(addr string, tc *tls.Config, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited during start")
		default:
		}
		if ping(addr, tc) == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("redis-server at %s not ready after %s", addr, startTimeout)
}

func ping(addr string, tc *tls.Config) error {
	var c net.Conn
	var err error
	d := &net.Dialer{Timeout: time.Second}
	if tc != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, tc)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	// A server that requires a password answers NOAUTH: it is up.
	if !strings.HasPrefix(line, "+PONG") && !strings.HasPrefix(line, "-NOAUTH") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lookPathQuiet(name string) (string, error) { return exec.LookPath(name) }
