package redis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/revocation"
)

// startReplicaOn runs one replica's revocation service on its own client
// until the test ends.
func startReplicaOn(t *testing.T, s *Store, opts revocation.Options) *revocation.Service {
	t.Helper()
	if opts.Metrics == nil {
		opts.Metrics = revocation.NewMetrics(prometheus.NewRegistry())
	}
	svc, err := revocation.NewService(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		_ = svc.Close()
	})
	return svc
}

// TestSentinelFailoverLosesNoRevocation kills the primary of a Sentinel
// setup while three replicas revoke in a steady stream (see
// testFailoverLosesNoRevocation).
func TestSentinelFailoverLosesNoRevocation(t *testing.T) {
	st := redisserver.NewSentinel(t)
	testFailoverLosesNoRevocation(t,
		func() goredis.UniversalClient { return newSentinelClient(t, st) }, Options{},
		func() {
			st.Primary.Stop() // kill -9
			st.WaitPrimary(t, st.Replica.Addr())
		})
}

// TestClusterFailoverLosesNoRevocation kills the Cluster primary holding
// the revocation keys' slot; its replica takes over.
func TestClusterFailoverLosesNoRevocation(t *testing.T) {
	cs := redisserver.NewClusterWithReplicas(t)
	opts := clusterOptions(t, false)
	testFailoverLosesNoRevocation(t,
		func() goredis.UniversalClient { return newClusterClient(t, cs) }, opts,
		func() {
			seq := opts.KeyPrefix + "seq"
			old := cs.PrimaryFor(t, seq)
			old.Stop() // kill -9
			cs.WaitPromoted(t, seq, old)
		})
}

// testFailoverLosesNoRevocation runs three replicas revoking in a steady
// stream and calls failover in the middle: every revocation that was
// acknowledged (the admin API's 201) before, during or after the failover
// ends up enforced by every replica and stored on the promoted primary,
// and the revoking replica enforces it from the moment it is
// acknowledged.
func testFailoverLosesNoRevocation(t *testing.T, newClient func() goredis.UniversalClient, store Options, failover func()) {
	opts := revocation.Options{ProbeInterval: 100 * time.Millisecond, SyncInterval: time.Second}
	replicas := make([]*revocation.Service, 3)
	for i := range replicas {
		replicas[i] = startReplicaOn(t, storeOn(t, newClient(), store), opts)
	}

	var (
		mu       sync.Mutex
		acked    []revocation.Entry
		failed   atomic.Int64
		afterNew atomic.Int64 // acknowledged once the new primary was named
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
	for w := range replicas {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				e := revocation.Entry{Kind: revocation.KindJTI, Value: fmt.Sprintf("failover-%d-%d", w, i), ExpiresAt: time.Now().Add(time.Hour).Unix()}
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				err := replicas[w].Revoke(ctx, e)
				cancel()
				if err != nil {
					failed.Add(1)
					continue
				}
				if !enforces(replicas[w], e) {
					t.Errorf("replica %d does not enforce %s right after acknowledging it", w, e.Value)
				}
				mu.Lock()
				acked = append(acked, e)
				mu.Unlock()
				if promoted.Load() {
					afterNew.Add(1)
				}
			}
		})
	}
	ackedCount := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	eventually(t, "revocations acknowledged before the failover", func() bool { return ackedCount() >= 50 })

	failover()
	promoted.Store(true)
	eventually(t, "revocations acknowledged after the failover", func() bool { return afterNew.Load() >= 50 })
	halt()

	mu.Lock()
	all := append([]revocation.Entry(nil), acked...)
	mu.Unlock()
	t.Logf("%d revocations acknowledged (%d after the failover), %d refused during it", len(all), afterNew.Load(), failed.Load())
	eventually(t, "every replica enforces every acknowledged revocation", func() bool { return allEnforce(replicas, all) })
	primary := storeOn(t, newClient(), store)
	eventually(t, "every acknowledged revocation is on the promoted primary", func() bool {
		for _, e := range all {
			if _, ok, err := primary.Get(t.Context(), e.Kind, "", e.Value); err != nil || !ok {
				return false
			}
		}
		return true
	})
}

// TestSentinelTLSFailoverLosesNoRevocation is
// TestSentinelFailoverLosesNoRevocation with TLS on every link: the
// client follows the promoted replica to its TLS port.
func TestSentinelTLSFailoverLosesNoRevocation(t *testing.T) {
	x := redisserver.NewTLS(t)
	st := redisserver.NewSentinelTLS(t, x)
	o := SentinelOptions{MasterName: st.MasterName, Addrs: []string{st.Sentinel.Addr()}, TLS: true, TLSConfig: x.Client}
	testFailoverLosesNoRevocation(t,
		func() goredis.UniversalClient {
			c := NewSentinelClient(o)
			t.Cleanup(func() { _ = c.Close() })
			return c
		}, Options{},
		func() {
			st.Primary.Stop() // kill -9
			st.WaitPrimary(t, st.Replica.Addr())
		})
}

// TestClusterTLSFailoverLosesNoRevocation is
// TestClusterFailoverLosesNoRevocation with TLS on every link.
func TestClusterTLSFailoverLosesNoRevocation(t *testing.T) {
	x := redisserver.NewTLS(t)
	cs := redisserver.NewClusterWithReplicasTLS(t, x)
	opts := clusterOptions(t, false)
	testFailoverLosesNoRevocation(t,
		func() goredis.UniversalClient {
			c := NewClusterClient(ClusterOptions{Addrs: cs.Addrs(), TLS: true, TLSConfig: x.Client})
			t.Cleanup(func() { _ = c.Close() })
			return c
		}, opts,
		func() {
			seq := opts.KeyPrefix + "seq"
			old := cs.PrimaryFor(t, seq)
			old.Stop() // kill -9
			cs.WaitPromoted(t, seq, old)
		})
}
