package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
)

// startReplicas runs n servers sharing one Redis, one issuer URL and one
// signing key, as a Kubernetes Deployment with the chart's redis mode does.
func startReplicas(t *testing.T, n int) []*instance {
	t.Helper()
	rs := redisserver.New(t)
	keyFile := filepath.Join(t.TempDir(), "signing-key.pem")
	cfg := fmt.Sprintf(`
revocation:
  store: redis
  redis_url: redis://%s/0
  sync_interval: 2s
issuer:
  issuer: http://authz.test
  signing_key_file: %s
`, rs.Addr(), keyFile)
	var out []*instance
	for range n {
		in := start(t, cfg, "")
		eventually(t, "replica ready", in.grpcServing)
		out = append(out, in)
	}
	return out
}

func TestReplicasShareRevocations(t *testing.T) {
	replicas := startReplicas(t, 3)
	const n = 20
	var delays []time.Duration
	for i := range n {
		access, _ := replicas[i%3].mint(fmt.Sprint("user-", i), "read")
		for _, r := range replicas {
			if got := reasonOf(r.check(access, "/")); got != "ok" {
				t.Fatalf("before revoke: %s", got)
			}
		}
		via := replicas[(i+1)%3]
		start := time.Now()
		if status := via.adminJSON("POST", "/admin/revocations", map[string]any{"token": access}, nil); status != 201 {
			t.Fatalf("revoke: %d", status)
		}
		for _, r := range replicas {
			eventually(t, "revocation applied on every replica", func() bool { return reasonOf(r.check(access, "/")) == "revoked" })
		}
		delays = append(delays, time.Since(start))
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	t.Logf("revocation denied by all 3 replicas after p50 %v, p99 %v (over %d revocations, including the revoke call)", delays[n/2], delays[n*99/100], n)
}

func TestReplicasConcurrentRefreshOneWinner(t *testing.T) {
	replicas := startReplicas(t, 2)
	_, refresh := replicas[0].mint("alice", "read")
	refreshRace(t, replicas, refresh, 50)
}

// refreshRace presents one refresh token n times at once, spread over the
// replicas, and requires exactly one success and n-1 invalid_grant.
func refreshRace(t *testing.T, replicas []*instance, refresh string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	var ok, invalid atomic.Int64
	for i := range n {
		wg.Go(func() {
			r := replicas[i%len(replicas)]
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
			status, body := do(t, "POST", "http://"+r.httpAddr+"/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), nil)
			switch {
			case status == 200:
				ok.Add(1)
			case status == 400 && strings.Contains(string(body), "invalid_grant"):
				invalid.Add(1)
			default:
				t.Errorf("refresh: %d %s", status, body)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || invalid.Load() != int64(n-1) {
		t.Fatalf("successes %d, invalid_grant %d; want exactly one success", ok.Load(), invalid.Load())
	}
}
