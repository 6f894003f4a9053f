package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// process is jwt-authz running as a real child process.
type process struct {
	cmd                           *exec.Cmd
	grpcAddr, httpAddr, adminAddr string
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "jwt-authz")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startProcess runs `jwt-authz serve` on dataDir with listeners on free
// ports, and reads the bound addresses from its startup log line.
func startProcess(t *testing.T, bin, dataDir string) *process {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data-dir", dataDir, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "JWT_AUTHZ_LOG_FORMAT=json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	p := &process{cmd: cmd}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	deadline := time.After(30 * time.Second)
	for p.grpcAddr == "" {
		select {
		case line := <-lines:
			if !strings.Contains(line, `"jwt-authz serving"`) {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatal(err)
			}
			p.grpcAddr, _ = m["grpc_addr"].(string)
			p.httpAddr, _ = m["http_addr"].(string)
			p.adminAddr, _ = m["admin_addr"].(string)
		case <-deadline:
			t.Fatal("jwt-authz did not start")
		}
	}
	return p
}

func (p *process) instance(t *testing.T) *instance {
	conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &instance{t: t, grpcAddr: p.grpcAddr, httpAddr: p.httpAddr, adminAddr: p.adminAddr, conn: conn}
}

// TestRevocationSurvivesKill9 revokes over the admin API, kills the
// process without warning, restarts it on the same data dir, and expects
// the token still denied: a 201 means the entry was fsynced.
func TestRevocationSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dataDir := t.TempDir()
	p := startProcess(t, bin, dataDir)
	in := p.instance(t)
	eventually(t, "ready", in.grpcServing)
	access, _ := in.mint("alice", "read")
	other, _ := in.mint("bob", "read")
	if r := reasonOf(in.check(access, "/")); r != "ok" {
		t.Fatalf("before revoke: %s", r)
	}
	if status := in.adminJSON("POST", "/admin/revocations", map[string]any{"token": access}, nil); status != 201 {
		t.Fatalf("revoke: %d", status)
	}
	if r := reasonOf(in.check(access, "/")); r != "revoked" {
		t.Fatalf("after revoke: %s", r)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	p2 := startProcess(t, bin, dataDir)
	in2 := p2.instance(t)
	eventually(t, "ready after restart", in2.grpcServing)
	if r := reasonOf(in2.check(access, "/")); r != "revoked" {
		t.Fatalf("after kill -9 and restart: %s", r)
	}
	if r := reasonOf(in2.check(other, "/")); r != "ok" {
		t.Fatalf("unrelated token after restart: %s", r)
	}
}
