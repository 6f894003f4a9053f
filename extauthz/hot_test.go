package extauthz

import (
	"fmt"
	"hash/maphash"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// hotEnv returns an env whose token tok has been checked twice, so that it
// is hot.
func hotEnv(t *testing.T, mut func(*PolicyOptions), claims func(map[string]any)) (*env, string) {
	t.Helper()
	e := newEnv(t, mut)
	tok := e.token(claims)
	for range 2 {
		if got := reasonOf(e.check("GET", "/", bearerHdr(tok))); got != "ok" {
			t.Fatalf("reason %q", got)
		}
	}
	if !isHot(e, tok) {
		t.Fatal("token not hot after a cache hit")
	}
	return e, tok
}

// isHot reports whether tok is in e's hot tier, built for its provider's
// current state.
func isHot(e *env, tok string) bool {
	h := e.srv.hot.get(tok, e.srv.hot.hash(tok), time.Now().Unix())
	return h != nil && h.st == e.srv.Policy().providers[e.prov]
}

// A hot token is still refused when it is revoked, when its key leaves the
// key set, and where a rule wants a scope it lacks.
func TestHotTokenStillChecked(t *testing.T) {
	t.Run("revoked", func(t *testing.T) {
		e, tok := hotEnv(t, nil, func(c map[string]any) { c["jti"] = "hot-1" })
		e.rev.mu.Lock()
		e.rev.jtis["hot-1"] = true
		e.rev.mu.Unlock()
		if got := reasonOf(e.check("GET", "/", bearerHdr(tok))); got != "revoked" {
			t.Fatalf("reason %q, want revoked", got)
		}
	})
	t.Run("key removed", func(t *testing.T) {
		e, tok := hotEnv(t, nil, nil)
		e.removeKey("k1")
		if got := reasonOf(e.check("GET", "/", bearerHdr(tok))); got != "unknown_kid" {
			t.Fatalf("reason %q, want unknown_kid", got)
		}
	})
	t.Run("scope", func(t *testing.T) {
		e, tok := hotEnv(t, func(o *PolicyOptions) {
			o.Rules = []Rule{{PathPrefix: "/admin", RequireScopes: []string{"admin"}}, {PathPrefix: "/"}}
		}, nil)
		if got := reasonOf(e.check("GET", "/admin/x", bearerHdr(tok))); got != "insufficient_scope" {
			t.Fatalf("reason %q, want insufficient_scope", got)
		}
	})
}

// A reload that changes what the provider forwards is not answered with
// the response the old settings built.
func TestHotTokenRebuiltAfterReload(t *testing.T) {
	e, tok := hotEnv(t, nil, nil)
	e.prov = &Provider{Token: e.prov.Token, ForwardClaims: map[string]string{"tenant": "x-tenant"}}
	e.srv.SetPolicy(e.policy(nil))
	// The first Check after the reload verifies again (a new provider),
	// the second is a cache hit that replaces the stale hot token at once,
	// the third is answered from it.
	for i := range 3 {
		ok := e.check("GET", "/", bearerHdr(tok)).GetOkResponse()
		if headerOf(ok.GetHeaders(), "x-tenant") != "acme" || headerOf(ok.GetHeaders(), "x-jwt-sub") != "" {
			t.Fatalf("Check %d after reload: headers = %v", i, ok.GetHeaders())
		}
	}
	if !isHot(e, tok) {
		t.Fatal("the hot token of the old policy was not replaced by the next cache hit")
	}
}

// The forward-auth endpoint reads a hot token's claims too, including its
// payload segment, which the hot tier keeps its own copy of.
func TestHotTokenForwardAuth(t *testing.T) {
	e, tok := hotEnv(t, nil, nil)
	req := httptest.NewRequest("GET", "/authz/orders", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	e.srv.ForwardAuthHandler().ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("X-Jwt-Sub") != "alice" || rec.Header().Get("X-Jwt-Payload") != strings.Split(tok, ".")[1] {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}
}

func TestHotTierBoundedAndPurged(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 3 * hotSlots {
		tok := e.token(func(c map[string]any) { c["jti"] = fmt.Sprint("j-", i) })
		e.check("GET", "/", bearerHdr(tok))
		e.check("GET", "/", bearerHdr(tok))
	}
	if n := e.srv.hot.len(); n == 0 || n > hotSlots {
		t.Fatalf("%d hot tokens, want 1..%d", n, hotSlots)
	}
	e.srv.PurgeCache()
	if n := e.srv.hot.len(); n != 0 {
		t.Fatalf("%d hot tokens after PurgeCache", n)
	}
}

// Concurrent Checks of a few tokens, hot and not, agree with the token's
// own claims (run with -race).
func TestHotTierConcurrent(t *testing.T) {
	e := newEnv(t, nil)
	subs := []string{"a", "b", "c", "d"}
	toks := make([]string, len(subs))
	for i, s := range subs {
		toks[i] = e.token(func(c map[string]any) { c["sub"] = s })
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				n := (g + i) % len(toks)
				resp, err := e.srv.Check(t.Context(), checkReq("GET", "/", bearerHdr(toks[n])))
				if err != nil {
					t.Error(err)
					return
				}
				if got := headerOf(resp.GetOkResponse().GetHeaders(), "x-jwt-sub"); got != subs[n] {
					t.Errorf("token of %s answered with x-jwt-sub %q", subs[n], got)
					return
				}
			}
		})
	}
	wg.Wait()
}

// The tier serves a token until its cache entry's expiry and never for a
// different token, even one that lands in the same slot.
func TestHotTierMatchesTokenAndExpiry(t *testing.T) {
	h := &hotTier{seed: maphash.MakeSeed()}
	const raw = "aaaa.bbbb.cccc"
	h.offer(raw, h.hash(raw), verifiedToken{}, 1000, nil, nil, "e30", []byte{1})
	if h.get(raw, h.hash(raw), 999) == nil {
		t.Fatal("hot token not served before its expiry")
	}
	if h.get(raw, h.hash(raw), 1000) != nil {
		t.Fatal("hot token served at its expiry")
	}
	slot := h.hash(raw) % hotSlots
	for i := 0; ; i++ {
		other := fmt.Sprint(raw, i)
		if h.hash(other)%hotSlots != slot {
			continue
		}
		if h.get(other, h.hash(other), 0) != nil {
			t.Fatalf("token %q served as the hot token of its slot", other)
		}
		// Even under the hot token's own hash, other bytes are not it.
		if h.get(other, h.hash(raw), 0) != nil {
			t.Fatalf("token %q served under the hot token's hash", other)
		}
		break
	}
	for _, other := range []string{raw[:len(raw)-1], raw + "c"} {
		if h.get(other, h.hash(other), 0) != nil || h.get(other, h.hash(raw), 0) != nil {
			t.Fatalf("%q, a prefix or an extension of the hot token, was served", other)
		}
	}
}
