package redisserver

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// do sends one inline command and returns the first line of the reply.
func do(addr, command string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\r\n", command); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func TestStopStartEmptiesOnSamePort(t *testing.T) {
	s := New(t)
	addr := s.Addr()
	steps := []struct {
		name    string
		action  func()
		command string
		want    string
		wantErr bool
	}{
		{"write", nil, "SET k v", "+OK", false},
		{"read back", nil, "GET k", "$1", false},
		{"stopped", s.Stop, "PING", "", true},
		{"stopped twice is fine", s.Stop, "PING", "", true},
		{"restarted", s.Start, "PING", "+PONG", false},
		{"restarted empty", nil, "GET k", "$-1", false},
		{"start while running is a no-op", s.Start, "PING", "+PONG", false},
	}
	for _, st := range steps {
		if st.action != nil {
			st.action()
		}
		got, err := do(addr, st.command)
		if (err != nil) != st.wantErr {
			t.Fatalf("%s: %q → err %v, want error %v", st.name, st.command, err, st.wantErr)
		}
		if !st.wantErr && got != st.want {
			t.Fatalf("%s: %q → %q, want %q", st.name, st.command, got, st.want)
		}
		if s.Addr() != addr {
			t.Fatalf("%s: address changed from %s to %s", st.name, addr, s.Addr())
		}
	}
}

// TestReplicaRestartsEmpty restarts a replica that received its primary's
// dataset (written to dump.rdb at the full resynchronisation) while the
// primary is down: it starts empty, not with that copy.
func TestReplicaRestartsEmpty(t *testing.T) {
	primary := New(t, "--repl-diskless-sync-delay", "0")
	if got, err := do(primary.Addr(), "SET k v"); err != nil || got != "+OK" {
		t.Fatalf("SET = %q, %v", got, err)
	}
	host, port, _ := net.SplitHostPort(primary.Addr())
	replica := New(t, "--replicaof", host, port)
	testkit.Eventually(t, startTimeout, 5*time.Millisecond, "the replica to receive the primary's dataset", func() bool {
		got, _ := do(replica.Addr(), "GET k")
		return got == "$1"
	})
	if _, err := os.Stat(filepath.Join(replica.dir, "dump.rdb")); err != nil {
		t.Fatalf("the replica kept no snapshot of the dataset it received, so this test checks nothing: %v", err)
	}
	primary.Stop()
	replica.Stop()
	replica.Start()
	if got, err := do(replica.Addr(), "GET k"); err != nil || got != "$-1" {
		t.Fatalf("GET k after the restart = %q, %v; want nothing", got, err)
	}
}

func TestSharedPrefersEnvironment(t *testing.T) {
	t.Setenv(AddrEnv, "192.0.2.1:6379")
	if got := Shared(t); got != "192.0.2.1:6379" {
		t.Fatalf("Shared = %q, want the address from %s", got, AddrEnv)
	}
}

func TestSharedStartsServerWithoutEnvironment(t *testing.T) {
	t.Setenv(AddrEnv, "")
	addr := Shared(t)
	if got, err := do(addr, "PING"); err != nil || got != "+PONG" {
		t.Fatalf("PING %s = %q, %v", addr, got, err)
	}
}

func TestExtraArguments(t *testing.T) {
	s := New(t, "--requirepass", "s3cret")
	if got, _ := do(s.Addr(), "PING"); !strings.HasPrefix(got, "-NOAUTH") {
		t.Fatalf("PING without the password = %q, want NOAUTH", got)
	}
	if got, _ := do(s.Addr(), "AUTH s3cret"); got != "+OK" {
		t.Fatalf("AUTH = %q", got)
	}
}

func TestSentinelSetup(t *testing.T) {
	st := NewSentinel(t)
	got, err := st.PrimaryAddr(t.Context())
	if err != nil || got != st.Primary.Addr() {
		t.Fatalf("primary = %q, %v; want %s", got, err, st.Primary.Addr())
	}
}

func TestClusterSetup(t *testing.T) {
	cs := NewCluster(t)
	for _, addr := range cs.Addrs() {
		if got, err := do(addr, "CLUSTER INFO"); err != nil || !strings.HasPrefix(got, "$") {
			t.Fatalf("CLUSTER INFO %s = %q, %v", addr, got, err)
		}
	}
}

func TestPauseResume(t *testing.T) {
	s := New(t)
	s.Pause()
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The kernel accepts the connection; the paused server answers nothing.
	_ = c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := fmt.Fprint(c, "PING\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		t.Fatal("a paused server answered PING")
	}
	s.Resume()
	if got, err := do(s.Addr(), "PING"); err != nil || got != "+PONG" {
		t.Fatalf("PING after Resume = %q, %v", got, err)
	}
	s.Stop()
	s.Pause() // stopped: nothing to signal, no error
}

func TestTLSServer(t *testing.T) {
	x := NewTLS(t)
	s := NewTLSServer(t, x)
	if err := ping(s.Addr(), x.clientConfig()); err != nil {
		t.Fatalf("PING over TLS: %v", err)
	}
	if got, err := do(s.Addr(), "PING"); err == nil && got == "+PONG" {
		t.Fatal("the TLS port answered a plain PING")
	}
	if err := ping(s.Addr(), NewTLS(t).clientConfig()); err == nil {
		t.Fatal("a client trusting another authority reached the server")
	}
	s.Stop()
	s.Start() // again on TLS, on the same port
	if err := ping(s.Addr(), x.clientConfig()); err != nil {
		t.Fatalf("PING over TLS after a restart: %v", err)
	}
}

func TestSentinelTLSSetup(t *testing.T) {
	x := NewTLS(t)
	st := NewSentinelTLS(t, x)
	got, err := st.PrimaryAddr(t.Context())
	if err != nil || got != st.Primary.Addr() {
		t.Fatalf("primary = %q, %v; want %s", got, err, st.Primary.Addr())
	}
}
