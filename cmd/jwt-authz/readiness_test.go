package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/code"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// readinessSampler reads /readyz and gRPC health of both services from one
// goroutine, alternating, and fails the test when they disagree.
type readinessSampler struct {
	t       *testing.T
	in      *instance
	hc      healthpb.HealthClient
	samples int // readyz, health, readyz triples taken
	checked int // triples without a change between the two readyz
}

func newReadinessSampler(t *testing.T, in *instance) *readinessSampler {
	return &readinessSampler{t: t, in: in, hc: healthpb.NewHealthClient(in.conn)}
}

func (s *readinessSampler) readyz() (int, string) {
	status, body := do(s.t, "GET", "http://"+s.in.httpAddr+"/readyz", "", nil, nil)
	return status, string(body)
}

func (s *readinessSampler) serving(service string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := s.hc.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		s.t.Fatalf("health %q: %v", service, err)
	}
	return resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
}

// sample takes readyz, both gRPC health services, and readyz again. When
// the two readyz agree, no change happened in between, and gRPC health must
// say the same. It returns whether /readyz said 200 at the end, and its
// body.
func (s *readinessSampler) sample() (bool, string) {
	s.t.Helper()
	before, _ := s.readyz()
	whole, authz := s.serving(""), s.serving("envoy.service.auth.v3.Authorization")
	after, body := s.readyz()
	s.samples++
	if before == after {
		s.checked++
		if whole != (after == 200) || authz != (after == 200) {
			s.t.Fatalf("sample %d: /readyz %d, gRPC health %v (\"\") %v (authz): %s", s.samples, after, whole, authz, body)
		}
	}
	if after != 200 && after != 503 {
		s.t.Fatalf("/readyz %d %s", after, body)
	}
	return after == 200, body
}

// until samples without pause until /readyz says ready (or not), and
// returns the body then. It gives up after a minute, far beyond the
// configured times.
func (s *readinessSampler) until(ready bool, what string) string {
	s.t.Helper()
	giveUp := time.Now().Add(time.Minute)
	for time.Now().Before(giveUp) {
		if r, body := s.sample(); r == ready {
			return body
		}
	}
	s.t.Fatalf("%s: /readyz never turned ready=%v in %d samples", what, ready, s.samples)
	return ""
}

// TestEndToEndReadinessViewsAgree drives readiness through start-up, a JWKS
// outage past jwks_max_stale and recovery, sampling both views all along.
func TestEndToEndReadinessViewsAgree(t *testing.T) {
	k1 := testkit.NewKey(t, "ES256", "k1")
	js := newJWKSServer(t, k1)
	js.fail(500)
	cfg := corpConfig(js.URL, "")
	cfg = strings.Replace(cfg, "jwks_refresh_interval: 1h", "jwks_refresh_interval: 200ms", 1)
	cfg = strings.Replace(cfg, "jwks_min_refresh_interval: 200ms", "jwks_min_refresh_interval: 50ms", 1)
	cfg = strings.Replace(cfg, "jwks_max_stale: 1h", "jwks_max_stale: 400ms", 1)
	in := start(t, cfg, "")
	s := newReadinessSampler(t, in)

	// Start-up: the JWKS endpoint fails; the replica is not ready.
	for range 20 {
		if ready, body := s.sample(); ready || !strings.Contains(body, `"providers":{"corp":`) {
			t.Fatalf("ready, or corp not named, before any key was loaded: %s", body)
		}
	}
	js.fail(200)
	s.until(true, "start-up")

	// Outage: the last good keys serve until jwks_max_stale, then both
	// views turn not ready together, and /readyz names the provider.
	js.fail(500)
	body := s.until(false, "outage")
	if !strings.Contains(body, `"providers":{"corp":"keys stale since`) {
		t.Fatalf("outage body: %s", body)
	}
	if r := reasonOf(in.check(corpToken(t, k1), "/")); r != "keys_unavailable" {
		t.Fatalf("not ready, yet Check says %s", r)
	}

	// Recovery.
	js.fail(200)
	s.until(true, "recovery")
	if r := reasonOf(in.check(corpToken(t, k1), "/")); r != "ok" {
		t.Fatalf("ready, yet Check says %s", r)
	}
	if s.checked == 0 {
		t.Fatal("no sample compared both views")
	}
	t.Logf("%d samples, %d compared", s.samples, s.checked)
}

// TestEndToEndOptionalProviderDoesNotGateReadiness: a dead optional
// provider leaves the replica ready, its tokens answer 503
// keys_unavailable, and /readyz still names it.
func TestEndToEndOptionalProviderDoesNotGateReadiness(t *testing.T) {
	k1 := testkit.NewKey(t, "ES256", "k1")
	k2 := testkit.NewKey(t, "ES256", "k2")
	js := newJWKSServer(t, k1)
	dead := newJWKSServer(t, k2)
	dead.fail(500)
	extra := fmt.Sprintf(`  - name: partner
    issuer: https://partner.example.com/
    jwks_uri: %s
    jwks_min_refresh_interval: 50ms
    optional: true
`, dead.URL)
	in := start(t, corpConfig(js.URL, extra), "")
	s := newReadinessSampler(t, in)
	body := s.until(true, "start-up with a dead optional provider")
	var parsed struct {
		Status   string
		Optional struct{ Providers map[string]string }
	}
	if err := json.Unmarshal([]byte(body), &parsed); err != nil || parsed.Status != "ready" || parsed.Optional.Providers["partner"] == "" {
		t.Fatalf("body %s (%v)", body, err)
	}
	tok := testkit.Sign(t, k2, testkit.Claims("https://partner.example.com/", "bob", "orders-api"), nil)
	resp := in.check(tok, "/")
	if reasonOf(resp) != "keys_unavailable" || resp.GetStatus().GetCode() != int32(code.Code_UNAVAILABLE) || resp.GetDeniedResponse().GetStatus().GetCode() != 503 {
		t.Fatalf("optional provider's token: %s %v", reasonOf(resp), resp.GetStatus())
	}
	if r := reasonOf(in.check(corpToken(t, k1), "/")); r != "ok" {
		t.Fatalf("corp token: %s", r)
	}
}

// TestEndToEndReadyzNamesProviderAndStore: with the JWKS endpoint and the
// shared revocation store both unreachable, /readyz names both.
func TestEndToEndReadyzNamesProviderAndStore(t *testing.T) {
	k1 := testkit.NewKey(t, "ES256", "k1")
	js := newJWKSServer(t, k1)
	js.fail(500)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	cfg := strings.Replace(corpConfig(js.URL, ""), "  store: memory", "  store: redis\n  redis_url: redis://"+closed+"/0", 1)
	in := start(t, cfg, "")
	s := newReadinessSampler(t, in)
	ready, body := s.sample()
	var parsed struct {
		Status    string
		Store     string
		Providers map[string]string
	}
	if err := json.Unmarshal([]byte(body), &parsed); err != nil || ready || parsed.Status != "not_ready" || parsed.Store == "" || parsed.Providers["corp"] == "" {
		t.Fatalf("body %s (%v)", body, err)
	}
}
