package redis

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/revocation"
)

// startReplica runs one jwt-authz replica's revocation service, with its
// own Redis client, until the test ends.
func startReplica(t *testing.T, addr string, store Options, opts revocation.Options) *revocation.Service {
	t.Helper()
	s, err := New(newClient(t, addr), store)
	if err != nil {
		t.Fatal(err)
	}
	return startReplicaOn(t, s, opts)
}

func startReplicas(t *testing.T, n int, addr string, store Options, opts revocation.Options) []*revocation.Service {
	t.Helper()
	out := make([]*revocation.Service, n)
	for i := range out {
		out[i] = startReplica(t, addr, store, opts)
	}
	return out
}

// eventually polls cond until it holds, failing after a generous bound; it
// checks liveness, not speed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, 5*time.Millisecond, what, cond)
}

func allEnforce(replicas []*revocation.Service, entries []revocation.Entry) bool {
	for _, r := range replicas {
		for _, e := range entries {
			if !enforces(r, e) {
				return false
			}
		}
	}
	return true
}

func enforces(r *revocation.Service, e revocation.Entry) bool {
	var err error
	switch e.Kind {
	case revocation.KindJTI:
		err = r.Index().Check("", e.Value, "", "", 0)
	case revocation.KindSID:
		err = r.Index().Check("", "", e.Value, "", 0)
	case revocation.KindSub:
		err = r.Index().Check("", "", "", e.Value, e.Before-1)
	}
	return err == revocation.ErrRevoked
}

func testEntries(prefix string, n int) []revocation.Entry {
	now := time.Now().Unix()
	out := make([]revocation.Entry, n)
	for i := range out {
		switch i % 3 {
		case 0:
			out[i] = revocation.Entry{Kind: revocation.KindJTI, Value: fmt.Sprintf("%s-jti-%d", prefix, i), ExpiresAt: now + 3600}
		case 1:
			out[i] = revocation.Entry{Kind: revocation.KindSID, Value: fmt.Sprintf("%s-sid-%d", prefix, i), ExpiresAt: now + 3600}
		case 2:
			out[i] = revocation.Entry{Kind: revocation.KindSub, Value: fmt.Sprintf("%s-sub-%d", prefix, i), Before: now, ExpiresAt: now + 3600}
		}
	}
	return out
}

// TestReplicasPropagation revokes through each of three replicas in turn
// and measures how long it takes until all three enforce the revocation.
func TestReplicasPropagation(t *testing.T) {
	addr := redisserver.Shared(t)
	store := uniqueOptions(t)
	replicas := startReplicas(t, 3, addr, store, revocation.Options{})

	const n = 100
	delays := make([]time.Duration, 0, n)
	entries := testEntries("prop", n)
	for i, e := range entries {
		start := time.Now()
		if err := replicas[i%3].Revoke(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		for !allEnforce(replicas, []revocation.Entry{e}) {
			if time.Since(start) > 20*time.Second {
				t.Fatalf("revocation %d not enforced by every replica after 20s", i)
			}
			time.Sleep(50 * time.Microsecond)
		}
		delays = append(delays, time.Since(start))
	}
	slices.Sort(delays)
	p50, p99, worst := delays[n/2], delays[n*99/100-1], delays[n-1]
	t.Logf("propagation to all 3 replicas over %d revocations: p50 %v, p99 %v, max %v (goal p99 < 1s)", n, p50, p99, worst)

	// A replica that starts later loads everything from Redis.
	late := startReplica(t, addr, store, revocation.Options{})
	if !allEnforce([]*revocation.Service{late}, entries) {
		t.Fatal("a replica started later does not enforce earlier revocations")
	}
}

// TestReplicasSurviveRedisRestartWithoutPersistence restarts Redis empty
// under running replicas: every earlier revocation stays enforced and is
// written back into Redis.
func TestReplicasSurviveRedisRestartWithoutPersistence(t *testing.T) {
	srv := redisserver.New(t)
	store := Options{} // the production key names
	replicas := startReplicas(t, 3, srv.Addr(), store, revocation.Options{ProbeInterval: 100 * time.Millisecond})
	entries := testEntries("restart", 30)
	for i, e := range entries {
		if err := replicas[i%3].Revoke(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every replica enforces every revocation", func() bool { return allEnforce(replicas, entries) })

	srv.Stop()
	srv.Start()
	probe := newStore(t, srv.Addr(), store)
	inRedis := func() bool {
		for _, e := range entries {
			if _, ok, err := probe.Get(t.Context(), e.Kind, "", e.Value); err != nil || !ok {
				return false
			}
		}
		return true
	}
	eventually(t, "every earlier revocation is back in Redis", inRedis)
	if !allEnforce(replicas, entries) {
		t.Fatal("a replica stopped enforcing an earlier revocation")
	}
	for _, r := range replicas {
		eventually(t, "replicas ready again", func() bool { return r.Ready() == nil })
	}

	// Revocations keep propagating after the restart.
	after := revocation.Entry{Kind: revocation.KindJTI, Value: "after-restart", ExpiresAt: time.Now().Add(time.Hour).Unix()}
	if err := replicas[1].Revoke(t.Context(), after); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a revocation after the restart reaches every replica", func() bool {
		return allEnforce(replicas, []revocation.Entry{after})
	})
}

// TestReplicasFailClosedPastMaxStaleness stops Redis for longer than
// max_staleness: Check fails closed and Ready says why; when Redis is back,
// everything recovers by itself.
func TestReplicasFailClosedPastMaxStaleness(t *testing.T) {
	srv := redisserver.New(t)
	store := uniqueOptions(t)
	replicas := make([]*revocation.Service, 3)
	regs := make([]*prometheus.Registry, 3)
	for i := range replicas {
		regs[i] = prometheus.NewPedanticRegistry()
		replicas[i] = startReplica(t, srv.Addr(), store, revocation.Options{MaxStaleness: time.Second, Metrics: revocation.NewMetrics(regs[i])})
	}
	entries := testEntries("stale", 6)
	for i, e := range entries {
		if err := replicas[i%3].Revoke(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every replica enforces every revocation", func() bool { return allEnforce(replicas, entries) })

	srv.Stop()
	for i, r := range replicas {
		eventually(t, fmt.Sprintf("replica %d fails closed", i), func() bool {
			return errors.Is(r.Index().Check("", "not-revoked", "", "", 0), revocation.ErrUnavailable)
		})
		err := r.Ready()
		if !errors.Is(err, revocation.ErrUnavailable) || !strings.Contains(err.Error(), "max_staleness") {
			t.Fatalf("replica %d: Ready = %v, want the reason", i, err)
		}
		if started, now := unlabelled(t, regs[i], "jwt_authz_revocation_fail_closed_total"), unlabelled(t, regs[i], "jwt_authz_revocation_failing_closed"); started < 1 || now != 1 {
			t.Fatalf("replica %d failing closed: fail_closed_total %v, failing_closed %v, want at least 1 and 1", i, started, now)
		}
	}

	srv.Start()
	for i, r := range replicas {
		eventually(t, fmt.Sprintf("replica %d recovers", i), func() bool {
			return r.Ready() == nil && r.Index().Check("", "not-revoked", "", "", 0) == nil
		})
		if now := unlabelled(t, regs[i], "jwt_authz_revocation_failing_closed"); now != 0 {
			t.Fatalf("replica %d recovered: failing_closed %v, want 0", i, now)
		}
	}
	if !allEnforce(replicas, entries) {
		t.Fatal("revocations lost across the outage")
	}
	probe := newStore(t, srv.Addr(), store)
	eventually(t, "revocations written back into the restarted Redis", func() bool {
		for _, e := range entries {
			if _, ok, err := probe.Get(t.Context(), e.Kind, "", e.Value); err != nil || !ok {
				return false
			}
		}
		return true
	})
}

// TestReplicaResyncsAfterSubscriptionDrop drops a replica's subscription
// while an entry it never heard of sits in Redis: the resync that follows
// the reconnect must bring it in. Probes and the periodic resync are off,
// so nothing else could.
func TestReplicaResyncsAfterSubscriptionDrop(t *testing.T) {
	srv := redisserver.New(t)
	store := uniqueOptions(t)
	reg := prometheus.NewRegistry()
	r := startReplica(t, srv.Addr(), store, revocation.Options{
		MaxStaleness:  100 * time.Hour,
		ProbeInterval: time.Hour,
		SyncInterval:  time.Hour,
		Metrics:       revocation.NewMetrics(reg),
	})
	admin := newClient(t, srv.Addr())
	// A pull when the subscription was first made.
	eventually(t, "replica subscribed and in step", func() bool {
		return syncs(t, reg, "incremental") >= 1
	})

	missed := revocation.Entry{Kind: revocation.KindSID, Value: "missed", ExpiresAt: time.Now().Add(time.Hour).Unix()}
	if err := newStore(t, srv.Addr(), store).Restore(t.Context(), []revocation.Entry{missed}); err != nil {
		t.Fatal(err)
	}
	if enforces(r, missed) {
		t.Fatal("an unannounced entry reached the replica before the reconnect; the test proves nothing")
	}
	if err := admin.ClientKillByFilter(t.Context(), "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "entry applied by the pull after reconnecting", func() bool { return enforces(r, missed) })
	if n := syncs(t, reg, "full"); n != 1 {
		t.Fatalf("%v full pulls, want only the one at start: a reconnect reads the change log from the cursor", n)
	}
}

// syncs returns how many synchronisations of mode succeeded.
func syncs(t *testing.T, reg *prometheus.Registry, mode string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "jwt_authz_revocation_syncs_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["mode"] == mode && labels["result"] == "success" {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// unlabelled returns the value of an unlabelled counter or gauge.
func unlabelled(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			m := f.GetMetric()[0]
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s", name)
	return 0
}
