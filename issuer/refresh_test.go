package issuer

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRefreshRotatesAndDetectsReuse(t *testing.T) {
	e := newEnv(t, envConfig{})
	first := e.mint(t, "alice", "read write", map[string]any{"email": "alice@example.com"})
	_, firstClaims := parts(t, first.AccessToken)
	sid := firstClaims["sid"].(string)

	e.clock.Advance(time.Minute)
	second := tokenOK(t, e.refresh(first.RefreshToken))
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("refresh returned the old tokens")
	}
	_, ac := parts(t, second.AccessToken)
	if ac["sid"] != sid || ac["sub"] != "alice" || ac["scope"] != "read write" || ac["email"] != "alice@example.com" ||
		ac["iat"] != float64(e.clock.Now().Unix()) {
		t.Fatalf("refreshed access token claims %v", ac)
	}
	if second.Scope != "read write" {
		t.Fatalf("scope %q", second.Scope)
	}

	// The rotated token presented again is reuse: the session is revoked.
	if code := oauthErr(t, e.refresh(first.RefreshToken), 400); code != "invalid_grant" {
		t.Fatalf("replayed refresh token: %s", code)
	}
	if got := e.revoker.revoked(); len(got) != 1 || got[0] != sid {
		t.Fatalf("revoked sessions %v, want [%s]", got, sid)
	}
	if got := testutil.ToFloat64(e.iss.metrics.reuse); got != 1 {
		t.Fatalf("reuse counter %v", got)
	}
	// The legitimate holder's newer token no longer refreshes either.
	if code := oauthErr(t, e.refresh(second.RefreshToken), 400); code != "invalid_grant" {
		t.Fatalf("refresh in a revoked session: %s", code)
	}
	if s, err := e.store.Get(t.Context(), sid); err != nil || !s.Revoked {
		t.Fatalf("session after reuse: %+v %v", s, err)
	}
	if got := testutil.ToFloat64(e.iss.metrics.requests.WithLabelValues("refresh_token", "issued")); got != 1 {
		t.Fatalf("issued %v", got)
	}
	if got := testutil.ToFloat64(e.iss.metrics.requests.WithLabelValues("refresh_token", "invalid_grant")); got != 2 {
		t.Fatalf("invalid_grant %v", got)
	}
}

func TestRefreshPathAndScope(t *testing.T) {
	e := newEnv(t, envConfig{})
	p := e.mint(t, "alice", "read write", nil)
	h := e.iss.TokenHandler(nil)

	// POST /token/refresh with only refresh_token.
	next := tokenOK(t, post(h, PathRefresh, url.Values{"refresh_token": {p.RefreshToken}}))
	// Narrower scope for the access token only.
	narrow := tokenOK(t, post(h, PathRefresh, url.Values{"refresh_token": {next.RefreshToken}, "scope": {"read"}}))
	if _, c := parts(t, narrow.AccessToken); c["scope"] != "read" || narrow.Scope != "read" {
		t.Fatalf("narrowed scope %v / %q", c["scope"], narrow.Scope)
	}
	// The session keeps its full scope.
	full := tokenOK(t, post(h, PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {narrow.RefreshToken}}))
	if full.Scope != "read write" {
		t.Fatalf("scope after a narrowed refresh %q", full.Scope)
	}
	// A bearer Authorization header (an access token attached by a browser
	// client) is not client authentication and is ignored.
	req := httptest.NewRequest(http.MethodPost, PathRefresh, strings.NewReader(url.Values{"refresh_token": {full.RefreshToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	req.Header.Set("Authorization", "Bearer "+full.AccessToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	tokenOK(t, rec)
}

func TestRefreshGraceReplaysThePair(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *Options) { o.RefreshReuseGrace = 10 * time.Second }})
	first := e.mint(t, "alice", "read", nil)
	second := tokenOK(t, e.refresh(first.RefreshToken))

	e.clock.Advance(4 * time.Second)
	again := tokenOK(t, e.refresh(first.RefreshToken))
	if again.AccessToken != second.AccessToken || again.RefreshToken != second.RefreshToken || again.Scope != second.Scope {
		t.Fatal("a retry within the grace window got a different pair")
	}
	if again.ExpiresIn != second.ExpiresIn-4 {
		t.Fatalf("expires_in %d on replay, want %d", again.ExpiresIn, second.ExpiresIn-4)
	}
	if len(e.revoker.revoked()) != 0 {
		t.Fatal("a retry within the grace window revoked the session")
	}

	// The replayed pair works: its refresh token rotates.
	third := tokenOK(t, e.refresh(again.RefreshToken))

	// Past the window the second token is reuse.
	e.clock.Advance(11 * time.Second)
	if code := oauthErr(t, e.refresh(second.RefreshToken), 400); code != "invalid_grant" {
		t.Fatalf("after grace: %s", code)
	}
	if len(e.revoker.revoked()) != 1 {
		t.Fatal("reuse after grace did not revoke")
	}
	if code := oauthErr(t, e.refresh(third.RefreshToken), 400); code != "invalid_grant" {
		t.Fatalf("refresh in a revoked session: %s", code)
	}
}

// TestRefreshReplayFromAnotherReplica checks that the sealed replay opens
// on a replica holding the same key, and not on one with another key.
func TestRefreshReplayFromAnotherReplica(t *testing.T) {
	grace := func(o *Options) { o.RefreshReuseGrace = time.Minute }
	a := newEnv(t, envConfig{opts: grace})
	b := newEnv(t, envConfig{keys: a.iss.keys, store: a.store, clock: a.clock, opts: grace})
	first := a.mint(t, "alice", "", nil)
	second := tokenOK(t, a.refresh(first.RefreshToken))
	if again := tokenOK(t, b.refresh(first.RefreshToken)); again.RefreshToken != second.RefreshToken {
		t.Fatal("replica b replayed a different pair")
	}
}

func TestRefreshSessionMaxLifetime(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *Options) {
		o.SessionMaxLifetime = time.Hour
		o.RefreshTokenTTL = 2 * time.Hour
	}})
	p := e.mint(t, "alice", "", nil)
	for range 2 {
		e.clock.Advance(25 * time.Minute)
		p = tokenOK(t, e.refresh(p.RefreshToken))
	}
	if _, c := parts(t, p.RefreshToken); c["exp"] != float64(e.clock.Now().Add(10*time.Minute).Unix()) {
		t.Fatalf("refresh exp %v not capped at the session end", c["exp"])
	}
	e.clock.Advance(10 * time.Minute)
	if code := oauthErr(t, e.refresh(p.RefreshToken), 400); code != "invalid_grant" {
		t.Fatalf("refresh at the session end: %s", code)
	}
	if len(e.revoker.revoked()) != 0 {
		t.Fatal("an ended session counts as reuse")
	}
}

// TestRefreshRevokerFailure checks that a reuse whose revocation cannot be
// recorded still refuses the token and still revokes the session in the
// store, and says so in an error log.
func TestRefreshRevokerFailure(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.revoker.err = errFake
	first := e.mint(t, "alice", "", nil)
	second := tokenOK(t, e.refresh(first.RefreshToken))
	if code := oauthErr(t, e.refresh(first.RefreshToken), 400); code != "invalid_grant" {
		t.Fatalf("reuse: %s", code)
	}
	if code := oauthErr(t, e.refresh(second.RefreshToken), 400); code != "invalid_grant" {
		t.Fatalf("refresh after reuse: %s", code)
	}
	if !strings.Contains(e.logs.String(), `"level":"ERROR","msg":"record session revocation after refresh token reuse`) {
		t.Fatalf("no error logged:\n%s", e.logs)
	}
}

// TestAuditLines checks one audit line per issue, refresh, reuse and
// revoke, with hashed jti, and no token anywhere in the logs.
func TestAuditLines(t *testing.T) {
	e := newEnv(t, envConfig{})
	first := e.mint(t, "alice", "", nil)
	second := tokenOK(t, e.refresh(first.RefreshToken))
	oauthErr(t, e.refresh(first.RefreshToken), 400)
	third := e.mint(t, "bob", "", nil)
	if rec := post(e.iss.RevokeHandler(), PathRevoke, url.Values{"token": {third.RefreshToken}}); rec.Code != 200 {
		t.Fatalf("revoke %d", rec.Code)
	}

	logs := e.logs.String()
	for _, tok := range []*TokenResponse{first, second, third} {
		for _, raw := range []string{tok.AccessToken, tok.RefreshToken} {
			sig := raw[strings.LastIndexByte(raw, '.')+1:]
			if strings.Contains(logs, raw) || strings.Contains(logs, sig) {
				t.Fatal("logs contain a token")
			}
		}
	}
	_, rc := parts(t, first.RefreshToken)
	var events []string
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line["msg"] != "audit" {
			continue
		}
		events = append(events, line["event"].(string))
		for _, k := range []string{"sub", "sid", "jti_hash", "client_addr"} {
			if s, _ := line[k].(string); s == "" {
				t.Fatalf("audit line without %s: %v", k, line)
			}
		}
		if strings.Contains(sc.Text(), rc["jti"].(string)) {
			t.Fatal("audit line holds a raw jti")
		}
		if line["event"] == eventReuse && line["jti_hash"] != hashID(rc["jti"].(string)) {
			t.Fatalf("reuse line jti_hash %v", line["jti_hash"])
		}
	}
	want := []string{eventIssued, eventRefreshed, eventReuse, eventIssued, eventRevoked}
	if strings.Join(events, ",") != strings.Join(want, ",") {
		t.Fatalf("audit events %v, want %v", events, want)
	}
}
