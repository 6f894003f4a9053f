package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// loggedMetricsAddr reads metrics_addr from the "jwt-authz serving" line,
// which serve writes before it reports its listeners bound.
func loggedMetricsAddr(t *testing.T, in *instance) string {
	t.Helper()
	for _, line := range strings.Split(in.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "jwt-authz serving" {
			continue
		}
		addr, _ := rec["metrics_addr"].(string)
		return addr
	}
	t.Fatalf("no serving line in the logs:\n%s", in.logs)
	return ""
}

// TestMetricsAddr: with metrics_addr set, that listener serves /metrics and
// nothing else, and the admin listener keeps its own.
func TestMetricsAddr(t *testing.T) {
	in := start(t, listenAny+"metrics_addr: 127.0.0.1:0\n", "")
	addr := loggedMetricsAddr(t, in)
	if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("metrics_addr logged as %q", addr)
	}
	status, body := do(t, "GET", "http://"+addr+"/metrics", "", nil, nil)
	if status != http.StatusOK || !strings.Contains(string(body), "jwt_authz_") {
		t.Fatalf("GET /metrics on metrics_addr: %d\n%.300s", status, body)
	}
	for _, path := range []string{"/admin/providers", "/admin/revocations", "/readyz", "/healthz", "/debug/pprof/", "/oauth2/introspect"} {
		if status, body := do(t, "GET", "http://"+addr+path, "", nil, nil); status != http.StatusNotFound {
			t.Errorf("GET %s on metrics_addr: %d %s, want 404", path, status, body)
		}
	}
	if status, _ := do(t, "POST", "http://"+addr+"/metrics", "", nil, nil); status == http.StatusOK {
		t.Error("POST /metrics on metrics_addr answered 200")
	}
	if status, _ := do(t, "GET", "http://"+in.adminAddr+"/metrics", "", nil, nil); status != http.StatusOK {
		t.Errorf("GET /metrics on admin_addr: %d", status)
	}
}

// TestMetricsAddrUnset: by default there is no metrics listener.
func TestMetricsAddrUnset(t *testing.T) {
	in := start(t, "", "")
	if addr := loggedMetricsAddr(t, in); addr != "(admin_addr)" {
		t.Errorf("metrics_addr logged as %q, want (admin_addr)", addr)
	}
}
