package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// TestDecisionLogFile runs a replica with the decision log in a file and
// reads it back after shutdown: a line per decision of either transport,
// and no token anywhere.
func TestDecisionLogFile(t *testing.T) {
	k := testkit.NewKey(t, "ES256", "k1")
	js := newJWKSServer(t, k)
	path := filepath.Join(t.TempDir(), "decisions.log")
	in := start(t, corpConfig(js.URL, "decision_log:\n  enabled: true\n  path: "+path+"\n  sample_allow: 1\n  sample_deny: 1\n"), "")
	eventually(t, "ready", in.grpcServing)
	tok := corpToken(t, k)
	if got := reasonOf(in.check(tok, "/orders")); got != "ok" {
		t.Fatal(got)
	}
	if got := reasonOf(in.check("", "/orders")); got != "missing" {
		t.Fatal(got)
	}
	if a := sendHTTP(t, "GET", in.httpAddr, "/authz/orders/7", "api.example.com", map[string]string{"Authorization": "Bearer " + tok}); a.status != 200 {
		t.Fatalf("forward-auth %+v", a)
	}
	_, metrics := do(t, "GET", "http://"+in.adminAddr+"/metrics", "", nil, nil)
	if !strings.Contains(string(metrics), "jwt_authz_decision_log_dropped_total 0") {
		t.Error("no jwt_authz_decision_log_dropped_total")
	}
	in.stop()

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range append(strings.Split(tok, "."), tok, "alice") {
		if strings.Contains(string(raw), part) {
			t.Fatalf("the decision log holds %q:\n%s", part, raw)
		}
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var d struct{ Provider, Result, Reason, Path, SubHash string }
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		got = append(got, d.Provider+" "+d.Result+" "+d.Reason+" "+d.Path)
	}
	want := []string{"corp allowed ok /orders", "none denied missing /orders", "corp allowed ok /orders/7"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("lines %q, want %q", got, want)
	}
}
