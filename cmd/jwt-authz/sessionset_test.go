package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLISessionSetRevocation revokes a set of sessions holding one
// token's sid, through the CLI and through the admin API over HTTP: Check
// over gRPC then denies that token as revoked and allows another.
func TestCLISessionSetRevocation(t *testing.T) {
	in := start(t, "", "")
	eventually(t, "ready", in.grpcServing)
	cfgArgs := []string{"--config", in.cfgPath, "--admin-addr", in.adminAddr}
	run2 := func(args ...string) (code int, stdout, stderr string) {
		var out, errOut strings.Builder
		code = run(append(args, cfgArgs...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	alice, _ := in.mint("alice", "read")
	bob, _ := in.mint("bob", "read")
	carol, _ := in.mint("carol", "read")

	var file strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&file, "unrelated-session-%d\n", i)
		if i == 2500 {
			fmt.Fprintf(&file, "\n  %s  \n\n", claimString(t, alice, "sid"))
		}
	}
	path := filepath.Join(t.TempDir(), "sids.txt")
	if err := os.WriteFile(path, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run2("revoke", "--sids-file", path, "--provider", "self")
	if code != 0 {
		t.Fatalf("revoke --sids-file: exit %d: %s", code, errOut)
	}
	var got struct {
		Kind     string `json:"kind"`
		ID       string `json:"id"`
		Sessions int    `json:"sessions"`
		Provider string `json:"provider"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Kind != "sid_set" || got.Sessions != 5001 || got.Provider != "self" || got.ID == "" {
		t.Fatalf("revoke --sids-file printed %s (%v)", out, err)
	}
	if r := reasonOf(in.check(alice, "/")); r != "revoked" {
		t.Fatalf("token whose sid is in the set: %s, want revoked", r)
	}
	if r := reasonOf(in.check(bob, "/")); r != "ok" {
		t.Fatalf("token of another session: %s, want ok", r)
	}

	// The admin API itself, over HTTP: NDJSON is taken, text/plain (which
	// a web page could send) is not.
	line, _ := json.Marshal(claimString(t, bob, "sid"))
	if status, m := adminRequest(t, in, "POST", "/admin/revocations/sessions", string(line)+"\n", map[string]string{"Content-Type": "text/plain"}); status != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain body: %d %v, want 415", status, m)
	}
	status, m := adminRequest(t, in, "POST", "/admin/revocations/sessions", string(line)+"\n", map[string]string{"Content-Type": "application/x-ndjson"})
	if status != http.StatusCreated || m["kind"] != "sid_set" || m["sessions"] != 1.0 {
		t.Fatalf("NDJSON body: %d %v", status, m)
	}
	if r := reasonOf(in.check(bob, "/")); r != "revoked" {
		t.Fatalf("token revoked through the API: %s, want revoked", r)
	}
	if r := reasonOf(in.check(carol, "/")); r != "ok" {
		t.Fatalf("token of a third session: %s, want ok", r)
	}

	// Bad uses of the flag are refused before anything is sent.
	if code, _, errOut := run2("revoke", "--sids-file", path, "--sub", "x"); code != 2 || !strings.Contains(errOut, "--sids-file goes with --provider and --exp only") {
		t.Fatalf("--sids-file with --sub: exit %d: %s", code, errOut)
	}
	if code, _, errOut := run2("revoke", "--sids-file", filepath.Join(t.TempDir(), "missing")); code == 0 || !strings.Contains(errOut, "--sids-file") {
		t.Fatalf("missing file: exit %d: %s", code, errOut)
	}
}
