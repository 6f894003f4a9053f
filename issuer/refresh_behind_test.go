package issuer

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	sessionredis "github.com/jwt-authz/jwt-authz/session/redis"
)

// TestRefreshAfterStoreRolledBack restores a session's key in a real Redis
// to its state before a rotation, as a Redis restarted from an older
// snapshot holds it: the newest refresh token, which the store no longer
// knows, is not taken for reuse. The session ends without its access
// tokens being revoked, and the older token the store holds as current no
// longer refreshes either.
func TestRefreshAfterStoreRolledBack(t *testing.T) {
	addr := redisserver.New(t).Addr()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	e := newEnv(t, envConfig{store: redisStore(t, addr)})
	first := e.mint(t, "alice", "read", nil)
	_, claims := parts(t, first.AccessToken)
	key := sessionredis.KeyPrefix + claims["sid"].(string)
	snapshot, err := c.Dump(t.Context(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	ttl, err := c.PTTL(t.Context(), key).Result()
	if err != nil {
		t.Fatal(err)
	}

	e.clock.Advance(time.Minute)
	second := tokenOK(t, e.refresh(first.RefreshToken))
	if err := c.RestoreReplace(t.Context(), key, ttl, snapshot).Err(); err != nil {
		t.Fatal(err)
	}

	e.clock.Advance(time.Minute)
	if code := oauthErr(t, e.refresh(second.RefreshToken), 400); code != "invalid_grant" {
		t.Fatalf("refresh with the token the store lost: %s", code)
	}
	if got := e.revoker.revoked(); len(got) != 0 {
		t.Fatalf("sessions revoked with their access tokens: %v, want none", got)
	}
	if got := testutil.ToFloat64(e.iss.metrics.reuse); got != 0 {
		t.Fatalf("reuse counter %v, want 0", got)
	}
	if got := testutil.ToFloat64(e.iss.metrics.behind); got != 1 {
		t.Fatalf("store-behind counter %v, want 1", got)
	}
	if e.logs.Count(eventBehind) != 1 {
		t.Fatalf("audit lines:\n%s", e.logs.String())
	}
	if code := oauthErr(t, e.refresh(first.RefreshToken), 400); code != "invalid_grant" {
		t.Fatalf("refresh with the token the store holds as current: %s", code)
	}
	if s, err := e.store.Get(t.Context(), claims["sid"].(string)); err != nil || !s.Revoked {
		t.Fatalf("session after the refresh: %+v, %v; want it ended", s, err)
	}
}
