package issuer

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/dpop"
	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/replay"
)

// dpopEnvWith is newDPoPEnv over cfg, with refresh_reuse_grace grace.
func dpopEnvWith(t *testing.T, cfg envConfig, grace time.Duration) *env {
	t.Helper()
	c, err := dpop.New(dpop.Config{Provider: "self", Algorithms: []string{"ES256", "EdDSA"}, MaxAge: time.Minute,
		ClockSkew: ClockSkew, Replay: replay.NewMemory(1000)})
	if err != nil {
		t.Fatal(err)
	}
	cfg.opts = func(o *Options) { o.DPoP, o.RefreshReuseGrace = c, grace }
	return newEnv(t, cfg)
}

// TestDPoPBindingAndReuse: a refresh token that is no longer current is
// reuse whatever proof comes with it, so a thief who refreshed first with
// a proof of its own key cannot hide the legitimate client's reuse; the
// current token with a wrong proof is refused and changes nothing.
func TestDPoPBindingAndReuse(t *testing.T) {
	tests := map[string]struct {
		bound bool // the session starts bound to the client's key
		// second is the proof sent with the rotated token: "client",
		// "thief" or "" for none.
		second string
	}{
		"unbound, the thief binds first, the client's proof": {second: "client"},
		"unbound, the thief binds first, no proof":           {second: ""},
		"bound, the rotated token without a proof":           {bound: true, second: ""},
		"bound, the rotated token with another key":          {bound: true, second: "thief"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			e := dpopEnvWith(t, envConfig{}, 0)
			h := e.iss.TokenHandler(testExchange())
			keys := map[string]*testkit.Key{"client": testkit.NewKey(t, "ES256", ""), "thief": testkit.NewKey(t, "EdDSA", "")}
			proof := func(who string) []string {
				if who == "" {
					return nil
				}
				return []string{e.proof(t, keys[who], tokenURI, nil)}
			}
			var rt string
			first := "thief"
			if tt.bound {
				rt = dpopToken(t, postDPoP(h, PathToken, exchangeForm("corp-token", nil), proof("client")...), keys["client"]).RefreshToken
				first = "client"
			} else {
				rt = e.mint(t, "alice", "read", nil).RefreshToken
			}
			dpopToken(t, postDPoP(h, PathToken, refreshForm(rt), proof(first)...), keys[first])
			if got := oauthErr(t, postDPoP(h, PathToken, refreshForm(rt), proof(tt.second)...), http.StatusBadRequest); got != "invalid_grant" {
				t.Fatalf("rotated token: %s, want invalid_grant", got)
			}
			if len(e.revoker.revoked()) != 1 {
				t.Fatalf("revoked %v, want the session once", e.revoker.revoked())
			}
		})
	}
}

// TestDPoPBindingWithinGrace: a retry of a refresh that bound the session
// gets the same pair again with a proof by the bound key, and nothing
// without one.
func TestDPoPBindingWithinGrace(t *testing.T) {
	e := dpopEnvWith(t, envConfig{}, time.Minute)
	h := e.iss.TokenHandler(nil)
	key, other := testkit.NewKey(t, "ES256", ""), testkit.NewKey(t, "EdDSA", "")
	rt := e.mint(t, "alice", "read", nil).RefreshToken
	first := dpopToken(t, postDPoP(h, PathToken, refreshForm(rt), e.proof(t, key, tokenURI, nil)), key)
	e.clock.Advance(time.Second)
	for name, proofs := range map[string][]string{"no proof": nil, "another key": {e.proof(t, other, tokenURI, nil)}} {
		if got := oauthErr(t, postDPoP(h, PathToken, refreshForm(rt), proofs...), http.StatusBadRequest); got != "invalid_dpop_proof" {
			t.Fatalf("retry with %s: %s, want invalid_dpop_proof", name, got)
		}
	}
	again := dpopToken(t, postDPoP(h, PathToken, refreshForm(rt), e.proof(t, key, tokenURI, nil)), key)
	if again.AccessToken != first.AccessToken || again.RefreshToken != first.RefreshToken {
		t.Fatal("the retry with the key's proof got another pair")
	}
	if len(e.revoker.revoked()) != 0 {
		t.Fatalf("revoked %v within the grace window", e.revoker.revoked())
	}
}

// TestDPoPConcurrentBinding races refreshes of one unbound session, each
// with a proof of its own key, on every store and on two replicas sharing
// Redis: exactly one succeeds, and the session is bound to its key.
// Without grace the losers' reuse revokes the session; with grace they
// are refused for their key, and nothing is revoked.
func TestDPoPConcurrentBinding(t *testing.T) {
	type setup func(t *testing.T, grace time.Duration) []*env
	setups := map[string]setup{}
	for name, newStore := range backends {
		setups[name] = func(t *testing.T, grace time.Duration) []*env {
			return []*env{dpopEnvWith(t, envConfig{store: newStore(t)}, grace)}
		}
	}
	setups["two replicas"] = func(t *testing.T, grace time.Duration) []*env {
		addr := redisserver.Shared(t)
		a := dpopEnvWith(t, envConfig{store: redisStore(t, addr)}, grace)
		b := dpopEnvWith(t, envConfig{keys: a.iss.keys, store: redisStore(t, addr), clock: a.clock, revoker: a.revoker}, grace)
		return []*env{a, b}
	}
	for name, build := range setups {
		for _, grace := range []time.Duration{0, time.Minute} {
			t.Run(fmt.Sprintf("%s/grace=%s", name, grace), func(t *testing.T) {
				envs := build(t, grace)
				rt := envs[0].mint(t, "alice", "read", nil).RefreshToken
				const workers = 20
				keys := make([]*testkit.Key, workers)
				proofs := make([]string, workers)
				for w := range workers {
					keys[w] = testkit.NewKey(t, "ES256", "")
					proofs[w] = envs[0].proof(t, keys[w], tokenURI, nil)
				}
				recs := make([]*httptest.ResponseRecorder, workers)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for w := range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						e := envs[w%len(envs)]
						recs[w] = postDPoP(e.iss.TokenHandler(nil), PathToken, refreshForm(rt), proofs[w])
					}()
				}
				close(start)
				wg.Wait()
				winner := -1
				for w, rec := range recs {
					if rec.Code == http.StatusOK {
						if winner >= 0 {
							t.Fatalf("workers %d and %d both refreshed", winner, w)
						}
						winner = w
						continue
					}
					var body oauthError
					_ = json.Unmarshal(rec.Body.Bytes(), &body)
					want := "invalid_grant"
					if grace > 0 {
						want = "invalid_dpop_proof"
					}
					if rec.Code != http.StatusBadRequest || body.Error != want {
						t.Fatalf("worker %d: %d %s, want 400 %s", w, rec.Code, rec.Body, want)
					}
				}
				if winner < 0 {
					t.Fatal("no refresh succeeded")
				}
				resp := dpopToken(t, recs[winner], keys[winner])
				_, claims := parts(t, resp.AccessToken)
				sid, _ := claims["sid"].(string)
				if s, err := envs[0].store.Get(t.Context(), sid); err != nil || s.JKT != keys[winner].JKT(t) {
					t.Fatalf("session key %q (%v), want the winner's %s", s.JKT, err, keys[winner].JKT(t))
				}
				if n := len(envs[0].revoker.revoked()); (grace == 0) != (n == 1) || n > 1 {
					t.Fatalf("grace %s: revoked %v", grace, envs[0].revoker.revoked())
				}
			})
		}
	}
}
