package replay

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
)

// uniquePrefix isolates one test's keys on a shared server.
func uniquePrefix(t testing.TB) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return DefaultKeyPrefix + "test-" + hex.EncodeToString(b[:]) + ":"
}

func newRedisClient(t testing.TB, addr string) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestRedisContract runs the contract over two Redis values on two
// connections (two clients) to one server, as two replicas would.
func TestRedisContract(t *testing.T) {
	addr := redisserver.Shared(t)
	runContract(t, func(t *testing.T) (Cache, Cache) {
		p := uniquePrefix(t)
		return NewRedis(newRedisClient(t, addr), p), NewRedis(newRedisClient(t, addr), p)
	})
}

func TestRedisKeyExpiresAtUntil(t *testing.T) {
	addr := redisserver.Shared(t)
	c := newRedisClient(t, addr)
	p := uniquePrefix(t)
	r := NewRedis(c, p)
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond).Add(time.Millisecond / 2)
	wantClaim(t, r, "logout:corp", "j", until, true)
	keys, err := c.Keys(t.Context(), p+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !strings.HasPrefix(keys[0], p+"logout:corp:") || len(keys[0]) != len(p+"logout:corp:")+43 {
		t.Fatalf("keys = %q", keys)
	}
	at, err := c.PExpireTime(t.Context(), keys[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	// Rounded up to the next millisecond: never before until.
	if want := until.Truncate(time.Millisecond).Add(time.Millisecond); at != time.Duration(want.UnixMilli())*time.Millisecond {
		t.Fatalf("PEXPIRETIME = %v, want %d ms", at, want.UnixMilli())
	}
}

func TestRedisUnreachableIsAnError(t *testing.T) {
	s := redisserver.New(t)
	r := NewRedis(newRedisClient(t, s.Addr()), uniquePrefix(t))
	s.Stop()
	first, err := r.Claim(t.Context(), "s", "x", time.Now().Add(time.Minute))
	if err == nil || first {
		t.Fatalf("Claim with Redis down = %v, %v; want an error", first, err)
	}
}

func TestRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cs := redisserver.NewCluster(t)
	newCluster := func(t testing.TB) *goredis.ClusterClient {
		c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cs.Addrs()})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	runContract(t, func(t *testing.T) (Cache, Cache) {
		p := uniquePrefix(t)
		return NewRedis(newCluster(t), p), NewRedis(newCluster(t), p)
	})
	t.Run("the digest is the hash tag", func(t *testing.T) {
		r := NewRedis(newCluster(t), uniquePrefix(t))
		k := r.key("dpop:corp", "id")
		open, close := strings.IndexByte(k, '{'), strings.IndexByte(k, '}')
		if open < 0 || close != len(k)-1 || close-open-1 != 43 {
			t.Fatalf("key %q: want <prefix><scope>:{<43-char digest>}", k)
		}
	})
}
