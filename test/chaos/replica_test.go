package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// replica is one jwt-authz process, started from the built binary on its
// own data directory and config file. Its listeners bind port 0; the
// addresses come from the "jwt-authz serving" log line.
type replica struct {
	h       *harness
	idx     int
	dataDir string
	cfgPath string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	st   replicaState
}

// replicaState is what a request sees of its replica when it starts and
// when it ends; comparing the two classifies the request.
type replicaState struct {
	up          bool
	incarnation int64  // 1 for the first process, +1 on every restart
	epoch       uint64 // +1 at every fault start and recovery touching this replica
	steady      bool   // no fault touches this replica's keys or store
	reloadGen   uint64 // +1 at every reload start and end
	reloading   bool
	// stale: the replica was seen past max_staleness (/readyz 503 for the
	// store) while Redis is stalled and cannot answer it; staleGen is +1
	// at every change.
	stale    bool
	staleGen uint64
	// failClosed: the replica's fail-closed metrics at the last scrape
	// that ended before now (see watchFailClosed); zero until one did.
	failClosed failClosedSample
	// confirmedSeq: every revocation with this sequence number or lower
	// is known to be applied by this incarnation.
	confirmedSeq int64
	grpcAddr     string
	httpAddr     string
	adminAddr    string
	conn         *grpc.ClientConn
}

func (r *replica) state() replicaState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

func (r *replica) update(f func(st *replicaState)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.st)
}

// start runs a new process on the replica's data directory and waits
// until it listens; it does not wait for readiness.
func (r *replica) start(ctx context.Context) error {
	logf, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(r.h.bin, "serve", "--config", r.cfgPath)
	cmd.Env = cleanEnv()
	cmd.Stdout = logf
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logf.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	bound := make(chan [3]string, 1)
	go func() {
		defer close(done)
		defer logf.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = logf.Write(append(line, '\n'))
			if found {
				continue
			}
			var rec struct {
				Msg       string `json:"msg"`
				GRPCAddr  string `json:"grpc_addr"`
				HTTPAddr  string `json:"http_addr"`
				AdminAddr string `json:"admin_addr"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "jwt-authz serving" {
				found = true
				bound <- [3]string{rec.GRPCAddr, rec.HTTPAddr, rec.AdminAddr}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
	}()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()
	select {
	case a := <-bound:
		conn, err := grpc.NewClient(a[0], grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		r.update(func(st *replicaState) {
			st.grpcAddr, st.httpAddr, st.adminAddr, st.conn = a[0], a[1], a[2], conn
		})
		return nil
	case <-done:
		return fmt.Errorf("replica %d exited during start; log %s:\n%s", r.idx, r.logPath, tail(r.logPath))
	case <-ctx.Done():
		return fmt.Errorf("replica %d did not listen: %w", r.idx, ctx.Err())
	}
}

// kill sends SIGKILL and waits for the process to exit.
func (r *replica) kill() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// stop sends SIGTERM and waits for a graceful exit (SIGKILL after 30 s).
func (r *replica) stop() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	conn := r.st.conn
	r.st.up, r.st.conn = false, nil
	r.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func (r *replica) signal(sig syscall.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cmd.Process.Signal(sig)
}

// ready reports whether /readyz on the admin listener answers 200.
func (r *replica) ready(ctx context.Context) bool {
	st := r.state()
	status, _, err := r.h.get(ctx, "http://"+st.adminAddr+"/readyz")
	return err == nil && status == http.StatusOK
}

// storeStale reports whether /readyz answers 503 because of the
// revocation store (its "store" member says why).
func (r *replica) storeStale(ctx context.Context) bool {
	st := r.state()
	status, body, err := r.h.get(ctx, "http://"+st.adminAddr+"/readyz")
	if err != nil || status != http.StatusServiceUnavailable {
		return false
	}
	var rz struct {
		Store string `json:"store"`
	}
	return json.Unmarshal(body, &rz) == nil && rz.Store != ""
}

// waitReady polls /readyz until it answers 200 or ctx ends.
func (r *replica) waitReady(ctx context.Context) error {
	return poll(ctx, func(ctx context.Context) bool { return r.ready(ctx) },
		func() string { return fmt.Sprintf("replica %d to be ready; log tail:\n%s", r.idx, tail(r.logPath)) })
}

// metrics scrapes /metrics of the admin listener.
func (r *replica) metrics(ctx context.Context) (promText, error) {
	st := r.state()
	status, body, err := r.h.get(ctx, "http://"+st.adminAddr+"/metrics")
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("/metrics answered %d", status)
	}
	return promText(body), nil
}

// metric returns one summed series value, or -1 when it cannot be read.
func (r *replica) metric(ctx context.Context, name string, labels ...string) float64 {
	m, err := r.metrics(ctx)
	if err != nil {
		return -1
	}
	return m.sum(name, labels...)
}

// waitMetricAbove polls until the series' value exceeds floor.
func (r *replica) waitMetricAbove(ctx context.Context, floor float64, name string, labels ...string) error {
	return poll(ctx, func(ctx context.Context) bool { return r.metric(ctx, name, labels...) > floor },
		func() string { return fmt.Sprintf("replica %d: %s%v above %v", r.idx, name, labels, floor) })
}

// promText is a Prometheus text exposition.
type promText string

// sum adds the values of every sample of name whose labels include each
// of labels (written `key="value"`).
func (p promText) sum(name string, labels ...string) float64 {
	total := 0.0
	for line := range strings.Lines(string(p)) {
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		f := strings.Fields(rest[strings.LastIndex(rest, "}")+1:])
		if len(f) == 0 {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(f[0], &v); err == nil {
			total += v
		}
	}
	return total
}

// cleanEnv is the environment without JWT_AUTHZ_ variables, so the
// replicas run on their config file only.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "JWT_AUTHZ_") && !strings.HasPrefix(kv, "GOMAXPROCS=") && !strings.HasPrefix(kv, "GOGC=") {
			env = append(env, kv)
		}
	}
	return env
}

// tail returns the last lines of a log file, leaving out the audit
// records of every token and revocation.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var lines []string
	for line := range strings.Lines(string(b)) {
		if !strings.Contains(line, `"audit"`) {
			lines = append(lines, strings.TrimRight(line, "\n"))
		}
	}
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// poll asks cond every 25 ms until it holds or ctx ends: readiness
// polling, each call asking a server for its state.
func poll(ctx context.Context, cond func(ctx context.Context) bool, what func() string) error {
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok := cond(cctx)
		cancel()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s", what())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Clean(path))
}
