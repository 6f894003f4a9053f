package issuer

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.etcd.io/bbolt"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/session"
	sessionbolt "github.com/jwt-authz/jwt-authz/session/bolt"
	"github.com/jwt-authz/jwt-authz/session/memory"
	sessionredis "github.com/jwt-authz/jwt-authz/session/redis"
)

// backends builds a fresh store of each kind. Redis stores of one test
// share one server; each call gets its own client.
var backends = map[string]func(t testing.TB) session.Store{
	"memory": func(testing.TB) session.Store { return memory.New() },
	"bolt": func(t testing.TB) session.Store {
		t.Helper()
		db, err := bbolt.Open(filepath.Join(t.TempDir(), "jwt-authz.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		s, err := sessionbolt.New(db)
		if err != nil {
			t.Fatal(err)
		}
		return s
	},
	"redis": func(t testing.TB) session.Store {
		t.Helper()
		return redisStore(t, redisserver.Shared(t))
	},
}

func redisStore(t testing.TB, addr string) session.Store {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: 64})
	t.Cleanup(func() { _ = c.Close() })
	s, err := sessionredis.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// race sends one refresh token from 50 goroutines at once, spread over the
// issuers, and returns the responses.
func race(t *testing.T, envs []*env, refreshToken string) (statuses []int, bodies []TokenResponse) {
	t.Helper()
	const workers = 50
	statuses = make([]int, workers)
	bodies = make([]TokenResponse, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			rec := envs[w%len(envs)].refresh(refreshToken)
			statuses[w] = rec.Code
			if rec.Code == http.StatusOK {
				_ = json.Unmarshal(rec.Body.Bytes(), &bodies[w])
			}
		}()
	}
	close(start)
	wg.Wait()
	return statuses, bodies
}

// checkRace asserts the outcome of a race: without grace exactly one
// success and a revoked session; with grace the same pair for everyone.
func checkRace(t *testing.T, grace time.Duration, statuses []int, bodies []TokenResponse, revoked []string) {
	t.Helper()
	ok := 0
	var winner TokenResponse
	for w, st := range statuses {
		switch st {
		case http.StatusOK:
			ok++
			if winner.RefreshToken == "" {
				winner = bodies[w]
			}
			if bodies[w].AccessToken != winner.AccessToken || bodies[w].RefreshToken != winner.RefreshToken {
				t.Fatalf("worker %d got a different pair", w)
			}
		case http.StatusBadRequest:
		default:
			t.Fatalf("worker %d: status %d", w, st)
		}
	}
	if grace == 0 {
		if ok != 1 {
			t.Fatalf("%d refreshes succeeded, want exactly 1", ok)
		}
		if len(revoked) != 1 {
			t.Fatalf("revoked %v: the losers' reuse must revoke the session once", revoked)
		}
		return
	}
	if ok != len(statuses) {
		t.Fatalf("%d of %d refreshes succeeded within the grace window", ok, len(statuses))
	}
	if len(revoked) != 0 {
		t.Fatalf("revoked %v within the grace window", revoked)
	}
}

func TestConcurrentRefresh(t *testing.T) {
	for name, newStore := range backends {
		for _, grace := range []time.Duration{0, time.Minute} {
			t.Run(fmt.Sprintf("%s/grace=%s", name, grace), func(t *testing.T) {
				e := newEnv(t, envConfig{store: newStore(t), opts: func(o *Options) { o.RefreshReuseGrace = grace }})
				p := e.mint(t, "alice", "read", nil)
				statuses, bodies := race(t, []*env{e}, p.RefreshToken)
				checkRace(t, grace, statuses, bodies, e.revoker.revoked())
			})
		}
	}
}

// TestConcurrentRefreshTwoReplicas runs two Issuers, each with its own
// Redis client, against one Redis: one session, one winner.
func TestConcurrentRefreshTwoReplicas(t *testing.T) {
	addr := redisserver.Shared(t)
	for _, grace := range []time.Duration{0, time.Minute} {
		t.Run(fmt.Sprintf("grace=%s", grace), func(t *testing.T) {
			opts := func(o *Options) { o.RefreshReuseGrace = grace }
			a := newEnv(t, envConfig{store: redisStore(t, addr), opts: opts})
			b := newEnv(t, envConfig{keys: a.iss.keys, store: redisStore(t, addr), clock: a.clock, revoker: a.revoker, opts: opts})
			p := a.mint(t, "alice", "read", nil)
			statuses, bodies := race(t, []*env{a, b}, p.RefreshToken)
			checkRace(t, grace, statuses, bodies, a.revoker.revoked())
		})
	}
}
