package main

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

const selfForwardConfig = `
revocation:
  store: memory
issuer:
  enabled: true
  forward_claims:
    sub: x-jwt-sub
    scope: x-jwt-scope
  forward_payload_header: x-jwt-payload
  keep_authorization: false
rules:
  - match: { path_prefix: /public }
    allow_anonymous: true
`

func okHeaders(resp *authv3.CheckResponse) map[string]string {
	out := map[string]string{}
	for _, h := range resp.GetOkResponse().GetHeaders() {
		out[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	return out
}

// TestSelfProviderForwarding: issuer.forward_claims, forward_payload_header
// and keep_authorization do for the built-in issuer's tokens what a
// provider's do, over gRPC and forward-auth, the anonymous allow strips
// the forwarded headers a client sends, and a reload applies a change.
func TestSelfProviderForwarding(t *testing.T) {
	in := start(t, selfForwardConfig, "")
	eventually(t, "ready", in.grpcServing)
	access, _ := in.mint("alice", "read write")

	resp := in.check(access, "/orders")
	h := okHeaders(resp)
	if reasonOf(resp) != "ok" || h["x-jwt-sub"] != "alice" || h["x-jwt-scope"] != "read write" || h["x-jwt-payload"] != strings.Split(access, ".")[1] {
		t.Fatalf("allowed %s with headers %v", reasonOf(resp), h)
	}
	if !slices.Contains(resp.GetOkResponse().GetHeadersToRemove(), "authorization") {
		t.Fatalf("authorization kept: %v", resp.GetOkResponse().GetHeadersToRemove())
	}
	anon := in.check("", "/public")
	for _, name := range []string{"x-jwt-sub", "x-jwt-scope", "x-jwt-payload"} {
		if !slices.Contains(anon.GetOkResponse().GetHeadersToRemove(), name) {
			t.Fatalf("anonymous allow does not remove a client's %s: %v", name, anon.GetOkResponse().GetHeadersToRemove())
		}
	}
	got := sendHTTP(t, "GET", in.httpAddr, "/forward/x-forwarded", "jwt-authz", map[string]string{
		"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/orders", "X-Forwarded-Host": "api.example.com", "Authorization": "Bearer " + access,
	})
	if got.status != http.StatusOK || got.sub != "alice" {
		t.Fatalf("forward-auth: %+v", got)
	}

	// A reload changes the header; the token, cached under the old
	// settings, is answered with the new ones.
	writeConfig(t, in, strings.Replace(selfForwardConfig, "sub: x-jwt-sub", "sub: x-user", 1))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reload applied", func() bool { return okHeaders(in.check(access, "/orders"))["x-user"] == "alice" })
	if _, old := okHeaders(in.check(access, "/orders"))["x-jwt-sub"]; old {
		t.Fatal("the old header is still forwarded")
	}
	if strings.Contains(in.logs.String(), `"key":"issuer"`) {
		t.Fatal("forwarding keys reported as needing a restart")
	}
}
