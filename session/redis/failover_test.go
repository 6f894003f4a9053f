package redis_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	revredis "github.com/jwt-authz/jwt-authz/revocation/redis"
	"github.com/jwt-authz/jwt-authz/session"
	sessionredis "github.com/jwt-authz/jwt-authz/session/redis"
)

// TestSentinelFailoverNeverTwoWinners kills the primary of a Sentinel
// setup while sessions are created and rotated (see
// testFailoverNeverTwoWinners).
func TestSentinelFailoverNeverTwoWinners(t *testing.T) {
	st := redisserver.NewSentinel(t)
	testFailoverNeverTwoWinners(t, func() *sessionredis.Store { return sentinelFailoverStore(t, st) }, func() {
		st.Primary.Stop() // kill -9
		st.WaitPrimary(t, st.Replica.Addr())
	})
}

// TestSentinelStallNeverTwoWinners stalls the primary (SIGSTOP) until its
// replica is promoted, then lets it run again: it comes back a stale
// primary until the sentinel demotes it, and connections to it may still
// take rotations.
func TestSentinelStallNeverTwoWinners(t *testing.T) {
	st := redisserver.NewSentinel(t)
	testFailoverNeverTwoWinners(t, func() *sessionredis.Store { return sentinelFailoverStore(t, st) }, func() {
		st.Primary.Pause()
		st.WaitPrimary(t, st.Replica.Addr())
		st.Primary.Resume()
	})
}

// sentinelFailoverStore is the store jwt-authz builds for redis_sentinel.
func sentinelFailoverStore(t *testing.T, st *redisserver.SentinelSetup) *sessionredis.Store {
	t.Helper()
	c := revredis.NewSentinelClient(revredis.SentinelOptions{MasterName: st.MasterName, Addrs: []string{st.Sentinel.Addr()}})
	t.Cleanup(func() { _ = c.Close() })
	return replicatedStore(t, c, sentinelOf(t, st))
}

// TestClusterFailoverNeverTwoWinners kills one of three Cluster primaries;
// its replica takes over its slots.
func TestClusterFailoverNeverTwoWinners(t *testing.T) {
	cs := redisserver.NewClusterWithReplicas(t)
	testFailoverNeverTwoWinners(t, func() *sessionredis.Store { return clusterFailoverStore(t, cs) }, func() {
		probe := sessionredis.KeyPrefix + "probe"
		old := cs.PrimaryFor(t, probe)
		old.Stop() // kill -9
		cs.WaitPromoted(t, probe, old)
	})
}

// TestClusterStallNeverTwoWinners stalls one of three Cluster primaries
// (SIGSTOP) until its replica has taken over its slots, then lets it run
// again: until it hears of the promotion it is a stale primary.
func TestClusterStallNeverTwoWinners(t *testing.T) {
	cs := redisserver.NewClusterWithReplicas(t)
	testFailoverNeverTwoWinners(t, func() *sessionredis.Store { return clusterFailoverStore(t, cs) }, func() {
		probe := sessionredis.KeyPrefix + "probe"
		old := cs.PrimaryFor(t, probe)
		old.Pause()
		cs.WaitPromoted(t, probe, old)
		old.Resume()
		// Once it has heard of the promotion, every node names the
		// promoted one, and a new client learns that.
		c := newClient(t, old.Addr())
		testkit.Eventually(t, readyTimeout, 5*time.Millisecond, "the old primary to follow the promoted one", func() bool {
			info, err := c.Info(t.Context(), "replication").Result()
			return err == nil && strings.Contains(info, "role:slave")
		})
	})
}

// clusterFailoverStore is the store jwt-authz builds for redis_cluster.
func clusterFailoverStore(t *testing.T, cs *redisserver.ClusterSetup) *sessionredis.Store {
	t.Helper()
	c := revredis.NewClusterClient(revredis.ClusterOptions{Addrs: cs.Addrs()})
	t.Cleanup(func() { _ = c.Close() })
	return replicatedStore(t, c, nil)
}

// testFailoverNeverTwoWinners creates and rotates sessions in a steady
// stream and calls failover in the middle: a rotation either fails with
// ErrUnavailable or, once acknowledged, survives the failover, so
// presenting the same refresh token again afterwards is reuse, never a
// second rotation (asked through a new client, which has not been through
// the failover). Creations are acknowledged the same way: a session
// whose creation was acknowledged is never unknown at its first rotation.
func testFailoverNeverTwoWinners(t *testing.T, newStore func() *sessionredis.Store, failover func()) {
	s := newStore()
	var (
		mu       sync.Mutex
		won      []string // sessions whose j0 rotated, acknowledged
		refused  atomic.Int64
		after    atomic.Int64
		promoted atomic.Bool
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stopOnce sync.Once
	halt := func() {
		stopOnce.Do(func() { close(stop) })
		wg.Wait()
	}
	// A failing test stops the workers before the servers go.
	t.Cleanup(halt)
	rotate := func(sid string) bool {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		now := time.Now()
		err := s.Create(ctx, session.Session{ID: sid, Subject: "u", RefreshJTI: "j0",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(time.Hour)})
		switch {
		case errors.Is(err, session.ErrUnavailable):
			refused.Add(1)
			return false
		case err != nil:
			t.Errorf("%s: create: %v", sid, err)
			return false
		}
		out, err := s.Rotate(ctx, sid, "j0", session.Rotation{JTI: "j1", RetainUntil: now.Add(time.Hour)}, now)
		switch {
		case err != nil:
			if !errors.Is(err, session.ErrUnavailable) {
				t.Errorf("%s: error %v does not wrap ErrUnavailable", sid, err)
			}
			refused.Add(1)
			return false
		case out.Result == session.NotFound:
			t.Errorf("%s: the session of an acknowledged creation is lost", sid)
			return false
		case out.Result != session.Rotated:
			t.Errorf("%s: first rotation = %v", sid, out.Result)
			return false
		}
		return true
	}
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				sid := fmt.Sprintf("failover-%d-%d", w, i)
				if !rotate(sid) {
					continue
				}
				mu.Lock()
				won = append(won, sid)
				mu.Unlock()
				if promoted.Load() {
					after.Add(1)
				}
			}
		})
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(won) }
	testkit.Eventually(t, 20*time.Second, 5*time.Millisecond, "rotations before the failover", func() bool { return count() >= 30 })
	failover()
	promoted.Store(true)
	testkit.Eventually(t, 20*time.Second, 5*time.Millisecond, "rotations after the failover", func() bool { return after.Load() >= 30 })
	halt()

	t.Logf("%d rotations acknowledged (%d after the failover), %d refused during it",
		len(won), after.Load(), refused.Load())
	s = newStore()
	now := time.Now()
	for _, sid := range won {
		out, err := s.Rotate(t.Context(), sid, "j0", session.Rotation{JTI: "j1-again", RetainUntil: now.Add(time.Hour)}, now)
		if err != nil {
			t.Fatalf("%s: presenting j0 again: %v", sid, err)
		}
		if out.Result != session.Reused {
			t.Fatalf("%s: j0 presented again after the failover = %v, want reused (a second winner, or a lost session)", sid, out.Result)
		}
	}
}
