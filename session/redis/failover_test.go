package redis_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

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
	c := revredis.NewSentinelClient(revredis.SentinelOptions{MasterName: st.MasterName, Addrs: []string{st.Sentinel.Addr()}})
	t.Cleanup(func() { _ = c.Close() })
	testFailoverNeverTwoWinners(t, c, func() {
		st.Primary.Stop() // kill -9
		st.WaitPrimary(t, st.Replica.Addr())
	})
}

// TestClusterFailoverNeverTwoWinners kills one of three Cluster primaries;
// its replica takes over its slots.
func TestClusterFailoverNeverTwoWinners(t *testing.T) {
	cs := redisserver.NewClusterWithReplicas(t)
	c := revredis.NewClusterClient(revredis.ClusterOptions{Addrs: cs.Addrs()})
	t.Cleanup(func() { _ = c.Close() })
	testFailoverNeverTwoWinners(t, c, func() {
		probe := sessionredis.KeyPrefix + "probe"
		old := cs.PrimaryFor(t, probe)
		old.Stop() // kill -9
		cs.WaitPromoted(t, probe, old)
	})
}

// testFailoverNeverTwoWinners creates and rotates sessions in a steady
// stream and calls failover in the middle: a rotation either fails with
// ErrUnavailable or, once acknowledged, survives the failover, so
// presenting the same refresh token again afterwards is reuse, never a
// second rotation.
func testFailoverNeverTwoWinners(t *testing.T, c goredis.UniversalClient, failover func()) {
	s, err := sessionredis.NewWithOptions(c, sessionredis.Options{WaitForReplica: true})
	if err != nil {
		t.Fatal(err)
	}

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
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				now := time.Now()
				sid := fmt.Sprintf("failover-%d-%d", w, i)
				err := s.Create(ctx, session.Session{ID: sid, Subject: "u", RefreshJTI: "j0",
					CreatedAt: now, ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(time.Hour)})
				if err == nil {
					var out session.Outcome
					out, err = s.Rotate(ctx, sid, "j0", session.Rotation{JTI: "j1", RetainUntil: now.Add(time.Hour)}, now)
					if err == nil && out.Result != session.Rotated {
						t.Errorf("%s: first rotation = %v", sid, out.Result)
					}
				}
				cancel()
				if err != nil {
					if !errors.Is(err, session.ErrUnavailable) {
						t.Errorf("%s: error %v does not wrap ErrUnavailable", sid, err)
					}
					refused.Add(1)
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

	t.Logf("%d rotations acknowledged (%d after the failover), %d refused during it", len(won), after.Load(), refused.Load())
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
