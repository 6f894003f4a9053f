package redisserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// readyTimeout bounds how long a Sentinel or Cluster setup may take to
// become ready; it is polled, never slept.
const readyTimeout = 30 * time.Second

// failoverTimeout bounds a Sentinel failover. The sentinels' own
// failover-timeout is 10 s: an attempt that stalls (a loaded machine) is
// given up after it and tried again 20 s later, so a failover may take a
// second attempt, over 30 s, and still be correct.
const failoverTimeout = 90 * time.Second

// SentinelSetup is a primary, a replica of it and one sentinel monitoring
// them under MasterName.
type SentinelSetup struct {
	MasterName string
	Password   string // the data nodes' --requirepass, if any
	Primary    *Server
	Replica    *Server
	Sentinel   *Server
	tls        *TLS // nil: plain TCP
}

// NewSentinel starts a Sentinel setup for the test and stops it in
// t.Cleanup. The sentinel is redis-sentinel when installed, or else
// redis-server --sentinel (the same program). It declares a primary down
// after one second, so a killed primary is failed over in a few. Extra
// arguments go to both data nodes (for example "--requirepass", "pw",
// "--masterauth", "pw").
func NewSentinel(t testing.TB, dataArgs ...string) *SentinelSetup {
	t.Helper()
	return newSentinel(t, nil, nil, dataArgs)
}

// NewSentinelPrimaryArgs is NewSentinel, or NewSentinelTLS when x is not
// nil, with extra arguments for the primary only (for example renaming
// SLAVEOF and REPLICAOF away, so that the sentinel cannot turn it into a
// replica after a failover).
func NewSentinelPrimaryArgs(t testing.TB, x *TLS, primaryArgs []string, dataArgs ...string) *SentinelSetup {
	t.Helper()
	return newSentinel(t, x, primaryArgs, dataArgs)
}

// NewSentinelTLS is NewSentinel with TLS only, on the certificate of x:
// between clients and every node, replication and the sentinel's links.
func NewSentinelTLS(t testing.TB, x *TLS, dataArgs ...string) *SentinelSetup {
	t.Helper()
	return newSentinel(t, x, nil, dataArgs)
}

func newSentinel(t testing.TB, x *TLS, primaryArgs, dataArgs []string) *SentinelSetup {
	t.Helper()
	server := lookPath(t, "redis-server", "redis-server")
	st := &SentinelSetup{MasterName: "jwt-authz-primary", Password: passwordOf(dataArgs), tls: x}
	// Replicas sync at once (Redis 7 waits 5 s for more replicas by default).
	dataArgs = append([]string{"--repl-diskless-sync-delay", "0"}, dataArgs...)
	st.Primary = newServer(t, server, nil, append(slices.Clip(dataArgs), primaryArgs...), x)
	host, port := "127.0.0.1", strconv.Itoa(st.Primary.port)
	st.Replica = newServer(t, server, nil, append([]string{"--replicaof", host, port}, dataArgs...), x)

	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	var auth string
	if st.Password = passwordOf(dataArgs); st.Password != "" {
		auth = fmt.Sprintf("sentinel auth-pass %s %s\n", st.MasterName, st.Password)
	}
	text := fmt.Sprintf("sentinel monitor %[1]s %[2]s %[3]s 1\n"+
		"sentinel down-after-milliseconds %[1]s 1000\n"+
		"sentinel failover-timeout %[1]s 10000\n%[4]s", st.MasterName, host, port, auth)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	bin, pre := server, []string{conf, "--sentinel"}
	if sb, err := lookSentinel(); err == nil {
		bin, pre = sb, []string{conf}
	}
	st.Sentinel = newServer(t, bin, pre, nil, x)
	st.waitReplicated(t)
	st.waitSentinelKnowsReplica(t)
	return st
}

func lookSentinel() (string, error) {
	return lookPathQuiet("redis-sentinel")
}

// PrimaryAddr asks the sentinel for the current primary's address.
func (st *SentinelSetup) PrimaryAddr(ctx context.Context) (string, error) {
	c := goredis.NewSentinelClient(&goredis.Options{Addr: st.Sentinel.Addr(), MaxRetries: -1, TLSConfig: st.tls.clientConfig()})
	defer c.Close()
	a, err := c.GetMasterAddrByName(ctx, st.MasterName).Result()
	if err != nil {
		return "", err
	}
	if len(a) != 2 {
		return "", fmt.Errorf("sentinel answered %q", a)
	}
	return a[0] + ":" + a[1], nil
}

// WaitPrimary waits until the sentinel names addr as the primary and addr
// answers as one.
func (st *SentinelSetup) WaitPrimary(t testing.TB, addr string) {
	t.Helper()
	pollFor(t, failoverTimeout, "sentinel to name "+addr+" the primary", func(ctx context.Context) bool {
		got, err := st.PrimaryAddr(ctx)
		return err == nil && got == addr && role(ctx, addr, st.Password, st.tls) == "master"
	}, st.sentinelView)
}

// sentinelView returns what the sentinel says of the primary (flags,
// failover state), for the message of a wait that timed out.
func (st *SentinelSetup) sentinelView() string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c := goredis.NewSentinelClient(&goredis.Options{Addr: st.Sentinel.Addr(), MaxRetries: -1, TLSConfig: st.tls.clientConfig()})
	defer c.Close()
	m, err := c.Master(ctx, st.MasterName).Result()
	if err != nil {
		return "sentinel: " + err.Error()
	}
	return fmt.Sprintf("sentinel: ip=%s port=%s flags=%s failover-state=%s num-slaves=%s", m["ip"], m["port"], m["flags"], m["failover-state"], m["num-slaves"])
}

func (st *SentinelSetup) waitReplicated(t testing.TB) {
	t.Helper()
	poll(t, "the replica to sync with the primary", func(ctx context.Context) bool {
		info := infoOf(ctx, st.Replica.Addr(), st.Password, st.tls, "replication")
		return strings.Contains(info, "master_link_status:up")
	})
}

func (st *SentinelSetup) waitSentinelKnowsReplica(t testing.TB) {
	t.Helper()
	poll(t, "the sentinel to discover the replica", func(ctx context.Context) bool {
		c := goredis.NewSentinelClient(&goredis.Options{Addr: st.Sentinel.Addr(), MaxRetries: -1, TLSConfig: st.tls.clientConfig()})
		defer c.Close()
		reps, err := c.Replicas(ctx, st.MasterName).Result()
		if err != nil {
			return false
		}
		for _, r := range reps {
			if r["port"] == strconv.Itoa(st.Replica.port) && !strings.Contains(r["flags"], "disconnected") && !strings.Contains(r["flags"], "s_down") {
				return true
			}
		}
		return false
	})
}

// poll calls cond until it returns true, failing the test after
// readyTimeout. It is readiness polling: cond asks a server for its state.
func poll(t testing.TB, what string, cond func(ctx context.Context) bool) {
	t.Helper()
	pollFor(t, readyTimeout, what, cond, nil)
}

// pollFor is poll with its own bound; state, when not nil, describes what
// the servers say when the wait times out.
func pollFor(t testing.TB, bound time.Duration, what string, cond func(ctx context.Context) bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ok := cond(ctx)
		cancel()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("timed out after %s waiting for %s", bound, what)
			if state != nil {
				msg += " (" + state() + ")"
			}
			t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// passwordOf returns the value of --requirepass in args, or "".
func passwordOf(args []string) string {
	for i, a := range args {
		if a == "--requirepass" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// client returns a one-connection client of addr, over TLS with x when
// it is not nil; the caller closes it.
func client(addr, password string, x *TLS) *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: addr, Password: password, MaxRetries: -1, PoolSize: 1, DialTimeout: time.Second,
		TLSConfig: x.clientConfig()})
}

func infoOf(ctx context.Context, addr, password string, x *TLS, section string) string {
	c := client(addr, password, x)
	defer c.Close()
	info, _ := c.Info(ctx, section).Result()
	return info
}

func role(ctx context.Context, addr, password string, x *TLS) string {
	for line := range strings.Lines(infoOf(ctx, addr, password, x, "replication")) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "role:"); ok {
			return v
		}
	}
	return ""
}
