package main

import (
	"strings"
	"testing"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// TestReloadKeepsKeysOfChangedProvider changes a provider's rules (its
// audiences) while its JWKS endpoint is down: the reload applies the new
// rules over the keys already loaded, so its tokens are never denied with
// keys_unavailable for want of a first fetch.
func TestReloadKeepsKeysOfChangedProvider(t *testing.T) {
	k1 := testkit.NewKey(t, "ES256", "k1")
	js := newJWKSServer(t, k1)
	cfg := corpConfig(js.URL, "")
	in := start(t, cfg, "")
	eventually(t, "ready", in.grpcServing)
	if r := reasonOf(in.check(corpToken(t, k1), "/")); r != "ok" {
		t.Fatalf("before the reload: %s", r)
	}
	billing := testkit.Sign(t, k1, testkit.Claims(corpIss, "bob", "billing-api"), nil)
	if r := reasonOf(in.check(billing, "/")); r != "bad_audience" {
		t.Fatalf("billing token before the reload: %s", r)
	}

	js.fail(500)
	writeConfig(t, in, strings.Replace(cfg, "audiences: [orders-api]", "audiences: [orders-api, billing-api]", 1))
	eventually(t, "the reload applied", func() bool { return reasonOf(in.check(billing, "/")) == "ok" })
	if r := reasonOf(in.check(corpToken(t, k1), "/")); r != "ok" {
		t.Fatalf("after the reload, with the JWKS endpoint down: %s", r)
	}
	if !in.grpcServing() {
		t.Fatal("not SERVING after the reload")
	}
}
