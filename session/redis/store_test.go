package redis_test

import (
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	revredis "github.com/jwt-authz/jwt-authz/revocation/redis"
	"github.com/jwt-authz/jwt-authz/session"
	sessionredis "github.com/jwt-authz/jwt-authz/session/redis"
	"github.com/jwt-authz/jwt-authz/session/storetest"
)

func newClient(t testing.TB, addr string) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: 64})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestStore(t *testing.T) {
	addr := redisserver.Shared(t)
	storetest.Run(t, func(t *testing.T) session.Store {
		s, err := sessionredis.New(newClient(t, addr))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestKeysExpire checks the key layout and that a session key expires with
// its newest refresh token.
func TestKeysExpire(t *testing.T) {
	addr := redisserver.Shared(t)
	c := newClient(t, addr)
	s, err := sessionredis.New(c)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sess := session.Session{
		ID: "sid-expiry-" + now.Format("150405.000000000"), Subject: "alice", RefreshJTI: "j0",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(10 * time.Minute),
	}
	if err := s.Create(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	ttl, err := c.PTTL(t.Context(), sessionredis.KeyPrefix+sess.ID).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 9*time.Minute || ttl > 10*time.Minute {
		t.Fatalf("TTL after create = %s, want about 10m", ttl)
	}
	next := session.Rotation{JTI: "j1", RetainUntil: now.Add(20 * time.Minute)}
	if out, err := s.Rotate(t.Context(), sess.ID, "j0", next, now); err != nil || out.Result != session.Rotated {
		t.Fatalf("Rotate: %v %v", out.Result, err)
	}
	if ttl, err = c.PTTL(t.Context(), sessionredis.KeyPrefix+sess.ID).Result(); err != nil {
		t.Fatal(err)
	}
	if ttl <= 19*time.Minute || ttl > 20*time.Minute {
		t.Fatalf("TTL after rotation = %s, want about 20m", ttl)
	}
}

// TestUnavailable checks that an unreachable Redis is reported as
// session.ErrUnavailable by every method.
func TestUnavailable(t *testing.T) {
	srv := redisserver.New(t)
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	s, err := sessionredis.New(c)
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	now := time.Now()
	calls := map[string]func() error{
		"Create": func() error {
			return s.Create(t.Context(), session.Session{ID: "s", Subject: "u", RefreshJTI: "j", RetainUntil: now.Add(time.Hour)})
		},
		"Get": func() error { _, err := s.Get(t.Context(), "s"); return err },
		"Rotate": func() error {
			_, err := s.Rotate(t.Context(), "s", "j", session.Rotation{JTI: "k"}, now)
			return err
		},
		"Revoke": func() error { return s.Revoke(t.Context(), "s") },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, session.ErrUnavailable) {
				t.Fatalf("%s with Redis down: %v, want ErrUnavailable", name, err)
			}
		})
	}
}

func TestNewNilClient(t *testing.T) {
	if _, err := sessionredis.New(nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}

func TestNewSentinelWithoutSentinels(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	for _, sn := range []*sessionredis.Sentinel{{MasterName: "m"}, {Clients: []*goredis.SentinelClient{nil}}} {
		if _, err := sessionredis.NewWithOptions(c, sessionredis.Options{WaitForReplica: true, Sentinel: sn}); err == nil {
			t.Errorf("NewWithOptions with Sentinel %+v succeeded", sn)
		}
	}
}

// TestTopologies runs the contract through a Sentinel-managed primary and
// a three-primary Cluster: every script touches one key, so no hash tag is
// needed.
func TestTopologies(t *testing.T) {
	t.Run("sentinel", func(t *testing.T) {
		st := redisserver.NewSentinel(t)
		storetest.Run(t, func(t *testing.T) session.Store {
			c := revredis.NewSentinelClient(revredis.SentinelOptions{MasterName: st.MasterName, Addrs: []string{st.Sentinel.Addr()}})
			t.Cleanup(func() { _ = c.Close() })
			s, err := sessionredis.New(c)
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
	t.Run("cluster", func(t *testing.T) {
		cs := redisserver.NewCluster(t)
		storetest.Run(t, func(t *testing.T) session.Store {
			c := revredis.NewClusterClient(revredis.ClusterOptions{Addrs: cs.Addrs()})
			t.Cleanup(func() { _ = c.Close() })
			s, err := sessionredis.New(c)
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
}
