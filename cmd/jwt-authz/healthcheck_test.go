package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runHealthcheck(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"healthcheck"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestHealthcheckReady: a running, ready server gives exit 0, found by
// --http-addr or by the config's http_addr.
func TestHealthcheckReady(t *testing.T) {
	in := start(t, "", "")
	if code, out, errOut := runHealthcheck(t, "--http-addr", in.httpAddr); code != 0 || !strings.Contains(out, "ready") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, port, err := net.SplitHostPort(in.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	// A wildcard listen address is reached on loopback.
	if err := os.WriteFile(cfg, []byte("http_addr: 0.0.0.0:"+port+"\ndata_dir: "+t.TempDir()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runHealthcheck(t, "--config", cfg); code != 0 {
		t.Fatalf("with --config: exit %d: %s", code, errOut)
	}
}

// TestHealthcheckNotReady: a 503 from /readyz, or no server, gives exit 1.
func TestHealthcheckNotReady(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"ready":false,"providers":{"corp":"no keys"}}`))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	code, _, errOut := runHealthcheck(t, "--http-addr", addr)
	if code != 1 || !strings.Contains(errOut, "503") {
		t.Fatalf("not ready: exit %d, stderr %q", code, errOut)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if code, _, errOut := runHealthcheck(t, "--http-addr", closed); code != 1 {
		t.Fatalf("no server: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runHealthcheck(t, "--http-addr", "nonsense"); code != 2 {
		t.Fatalf("bad address: exit %d, want 2", code)
	}
	if code, _, _ := runHealthcheck(t, "--timeout", "0s"); code != 2 {
		t.Fatalf("zero timeout: exit %d, want 2", code)
	}
}
