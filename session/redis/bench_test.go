package redis_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	revredis "github.com/jwt-authz/jwt-authz/revocation/redis"
	"github.com/jwt-authz/jwt-authz/session"
	sessionredis "github.com/jwt-authz/jwt-authz/session/redis"
)

// BenchmarkRotate measures one acknowledged rotation through the store as
// jwt-authz builds it for each topology: a single server, a Sentinel
// primary with its replica connected (the rotation waits for the replica),
// the same primary with its replica gone, and a Cluster with replicas.
func BenchmarkRotate(b *testing.B) {
	b.Run("single", func(b *testing.B) {
		s, err := sessionredis.New(newClient(b, redisserver.Shared(b)))
		if err != nil {
			b.Fatal(err)
		}
		benchRotate(b, s)
	})
	b.Run("sentinel", func(b *testing.B) {
		st := redisserver.NewSentinel(b)
		benchRotate(b, sentinelStore(b, st))
	})
	b.Run("sentinel-no-replica", func(b *testing.B) {
		st := redisserver.NewSentinel(b)
		st.Replica.Stop()
		benchRotate(b, sentinelStore(b, st))
	})
	b.Run("cluster", func(b *testing.B) {
		cs := redisserver.NewClusterWithReplicas(b)
		c := revredis.NewClusterClient(revredis.ClusterOptions{Addrs: cs.Addrs()})
		b.Cleanup(func() { _ = c.Close() })
		s, err := sessionredis.NewWithOptions(c, sessionredis.Options{WaitForReplica: true})
		if err != nil {
			b.Fatal(err)
		}
		benchRotate(b, s)
	})
}

// sentinelStore is the store jwt-authz builds for redis_sentinel.
func sentinelStore(b *testing.B, st *redisserver.SentinelSetup) *sessionredis.Store {
	b.Helper()
	c := revredis.NewSentinelClient(revredis.SentinelOptions{MasterName: st.MasterName, Addrs: []string{st.Sentinel.Addr()}})
	b.Cleanup(func() { _ = c.Close() })
	return replicatedStore(b, c, sentinelOf(b, st))
}

// benchRotate rotates one session's refresh token once per iteration.
func benchRotate(b *testing.B, s *sessionredis.Store) {
	b.Helper()
	ctx := b.Context()
	now := time.Now()
	sid := "bench-" + strconv.FormatInt(now.UnixNano(), 36)
	if err := s.Create(ctx, session.Session{ID: sid, Subject: "u", RefreshJTI: "j0",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	next := session.Rotation{RetainUntil: now.Add(time.Hour)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		next.JTI = "j" + strconv.Itoa(i+1)
		out, err := s.Rotate(ctx, sid, "j"+strconv.Itoa(i), next, now)
		if err != nil || out.Result != session.Rotated {
			b.Fatalf("rotation %d: %v %v", i, out.Result, err)
		}
		i++
	}
}

// BenchmarkCreate measures one acknowledged session creation on a
// Sentinel primary, without WaitForReplica (the script alone) and with it
// (the script, INFO and WAIT on one connection), with the replica
// connected and then with it gone (the script, INFO, and the check with
// the sentinel and the replica the sentinel knows). Each pair runs on the
// same servers, one after the other.
func BenchmarkCreate(b *testing.B) {
	st := redisserver.NewSentinel(b)
	c := revredis.NewSentinelClient(revredis.SentinelOptions{MasterName: st.MasterName, Addrs: []string{st.Sentinel.Addr()}})
	b.Cleanup(func() { _ = c.Close() })
	plain, err := sessionredis.New(c)
	if err != nil {
		b.Fatal(err)
	}
	replicated := replicatedStore(b, c, sentinelOf(b, st))
	b.Run("sentinel/unreplicated", func(b *testing.B) { benchCreate(b, plain) })
	b.Run("sentinel/replicated", func(b *testing.B) { benchCreate(b, replicated) })
	st.Replica.Stop()
	waitNoReplica(b, newClient(b, st.Primary.Addr()))
	b.Run("sentinel-no-replica/unreplicated", func(b *testing.B) { benchCreate(b, plain) })
	b.Run("sentinel-no-replica/replicated", func(b *testing.B) { benchCreate(b, replicated) })
}

// benchCreate creates one session per iteration.
func benchCreate(b *testing.B, s *sessionredis.Store) {
	b.Helper()
	ctx := b.Context()
	now := time.Now()
	prefix := "bench-create-" + strconv.FormatInt(now.UnixNano(), 36) + "-"
	sess := session.Session{Subject: "u", RefreshJTI: "j0", CreatedAt: now, ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(time.Hour)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sess.ID = prefix + strconv.Itoa(i)
		if err := s.Create(ctx, sess); err != nil {
			b.Fatalf("creation %d: %v", i, err)
		}
		i++
	}
}
