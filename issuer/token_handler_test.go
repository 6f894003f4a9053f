package issuer

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// TestTokenEndpointErrors covers every refusal of the token endpoint: the
// status, the RFC 6749 §5.2 code, and that the token never comes back.
func TestTokenEndpointErrors(t *testing.T) {
	type request struct {
		method, path, ctype, body string
		hdr                       map[string]string
	}
	form := func(v url.Values) request {
		return request{method: http.MethodPost, path: PathToken, ctype: "application/x-www-form-urlencoded", body: v.Encode()}
	}
	refreshForm := func(rt string) request {
		return form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	}
	tests := map[string]struct {
		// build returns the request, given an env with one minted pair.
		build   func(t *testing.T, e *env, pair *TokenResponse) request
		status  int
		code    string
		grant   string // metric label
		result  string // metric label
		checkFn func(t *testing.T, rec *httptest.ResponseRecorder)
	}{
		"GET": {
			build: func(*testing.T, *env, *TokenResponse) request {
				return request{method: http.MethodGet, path: PathToken}
			},
			status: 405, code: "invalid_request", grant: "unsupported", result: "invalid_request",
			checkFn: func(t *testing.T, rec *httptest.ResponseRecorder) {
				if rec.Header().Get("Allow") != "POST" {
					t.Fatalf("Allow %q", rec.Header().Get("Allow"))
				}
			},
		},
		"JSON body": {
			build: func(_ *testing.T, _ *env, p *TokenResponse) request {
				return request{method: http.MethodPost, path: PathToken, ctype: "application/json",
					body: `{"grant_type":"refresh_token","refresh_token":"` + p.RefreshToken + `"}`}
			},
			status: 400, code: "invalid_request", grant: "unsupported", result: "invalid_request",
		},
		"no content type": {
			build: func(*testing.T, *env, *TokenResponse) request {
				return request{method: http.MethodPost, path: PathToken, body: "grant_type=refresh_token"}
			},
			status: 400, code: "invalid_request", grant: "unsupported", result: "invalid_request",
		},
		"garbled form": {
			build: func(*testing.T, *env, *TokenResponse) request {
				return request{method: http.MethodPost, path: PathToken, ctype: "application/x-www-form-urlencoded", body: "grant_type=refresh_token&refresh_token=%zz"}
			},
			status: 400, code: "invalid_request", grant: "unsupported", result: "invalid_request",
		},
		"body too large": {
			build: func(*testing.T, *env, *TokenResponse) request {
				return form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {strings.Repeat("a", maxFormBytes)}})
			},
			status: 413, code: "invalid_request", grant: "unsupported", result: "invalid_request",
		},
		"missing grant_type": {
			build: func(_ *testing.T, _ *env, p *TokenResponse) request {
				return form(url.Values{"refresh_token": {p.RefreshToken}})
			},
			status: 400, code: "invalid_request", grant: "unsupported", result: "invalid_request",
		},
		"unknown grant_type": {
			build: func(*testing.T, *env, *TokenResponse) request {
				return form(url.Values{"grant_type": {"password"}, "username": {"a"}, "password": {"b"}})
			},
			status: 400, code: "unsupported_grant_type", grant: "unsupported", result: "invalid_request",
		},
		"repeated parameter": {
			build: func(_ *testing.T, _ *env, p *TokenResponse) request {
				return form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {p.RefreshToken, p.RefreshToken}})
			},
			status: 400, code: "invalid_request", grant: "refresh_token", result: "invalid_request",
		},
		"missing refresh_token": {
			build: func(*testing.T, *env, *TokenResponse) request {
				return form(url.Values{"grant_type": {"refresh_token"}})
			},
			status: 400, code: "invalid_request", grant: "refresh_token", result: "invalid_request",
		},
		"garbage refresh_token": {
			build:  func(*testing.T, *env, *TokenResponse) request { return refreshForm("not.a.jwt") },
			status: 400, code: "invalid_grant", grant: "refresh_token", result: "invalid_grant",
		},
		"access token as refresh token": {
			build:  func(_ *testing.T, _ *env, p *TokenResponse) request { return refreshForm(p.AccessToken) },
			status: 400, code: "invalid_grant", grant: "refresh_token", result: "invalid_grant",
		},
		"expired refresh token": {
			build: func(_ *testing.T, e *env, p *TokenResponse) request {
				e.clock.Advance(DefaultRefreshTokenTTL)
				return refreshForm(p.RefreshToken)
			},
			status: 400, code: "invalid_grant", grant: "refresh_token", result: "invalid_grant",
		},
		"refresh token of another issuer": {
			build: func(t *testing.T, e *env, _ *TokenResponse) request {
				other := newEnv(t, envConfig{opts: func(o *Options) { o.Issuer = "https://other.example.com" }})
				return refreshForm(other.mint(t, "alice", "", nil).RefreshToken)
			},
			status: 400, code: "invalid_grant", grant: "refresh_token", result: "invalid_grant",
		},
		"refresh token signed by an unknown key": {
			build: func(t *testing.T, e *env, _ *TokenResponse) request {
				impostor := newEnv(t, envConfig{store: e.store, clock: e.clock})
				return refreshForm(impostor.mint(t, "alice", "", nil).RefreshToken)
			},
			status: 400, code: "invalid_grant", grant: "refresh_token", result: "invalid_grant",
		},
		"refresh token with the issuer URL for another issuer's key": {
			build: func(t *testing.T, e *env, p *TokenResponse) request {
				_, c := parts(t, p.RefreshToken)
				k := testkit.NewKey(t, "EdDSA", e.iss.keys.SigningKeyID())
				return refreshForm(testkit.Sign(t, k, c, map[string]any{"typ": "rt+jwt"}))
			},
			status: 400, code: "invalid_grant", grant: "refresh_token", result: "invalid_grant",
		},
		"alg none": {
			build: func(t *testing.T, e *env, p *TokenResponse) request {
				_, c := parts(t, p.RefreshToken)
				return refreshForm(testkit.Unsigned(t, c)[0])
			},
			status: 400, code: "invalid_grant", grant: "refresh_token", result: "invalid_grant",
		},
		"HS256 with the public key": {
			build: func(t *testing.T, e *env, p *TokenResponse) request {
				_, c := parts(t, p.RefreshToken)
				return refreshForm(testkit.HMACWithPublicKey(t, e.iss.keys.public[0].Key, e.iss.keys.SigningKeyID(), c))
			},
			status: 400, code: "invalid_grant", grant: "refresh_token", result: "invalid_grant",
		},
		"issuer key but no typ": {
			build: func(t *testing.T, e *env, p *TokenResponse) request {
				_, c := parts(t, p.RefreshToken)
				return refreshForm(e.signWithIssuerKey(t, c, map[string]any{"typ": nil}))
			},
			status: 400, code: "invalid_grant", grant: "refresh_token", result: "invalid_grant",
		},
		"issuer key with crit": {
			build: func(t *testing.T, e *env, p *TokenResponse) request {
				_, c := parts(t, p.RefreshToken)
				return refreshForm(e.signWithIssuerKey(t, c, map[string]any{"typ": "rt+jwt", "crit": []string{"exp"}}))
			},
			status: 400, code: "invalid_grant", grant: "refresh_token", result: "invalid_grant",
		},
		"issuer key, access audience": {
			build: func(t *testing.T, e *env, p *TokenResponse) request {
				_, c := parts(t, p.RefreshToken)
				c["aud"] = "orders-api"
				return refreshForm(e.signWithIssuerKey(t, c, map[string]any{"typ": "rt+jwt"}))
			},
			status: 400, code: "invalid_grant", grant: "refresh_token", result: "invalid_grant",
		},
		"issuer key, no sid": {
			build: func(t *testing.T, e *env, p *TokenResponse) request {
				_, c := parts(t, p.RefreshToken)
				delete(c, "sid")
				return refreshForm(e.signWithIssuerKey(t, c, map[string]any{"typ": "rt+jwt"}))
			},
			status: 400, code: "invalid_grant", grant: "refresh_token", result: "invalid_grant",
		},
		"issuer key, other subject": {
			build: func(t *testing.T, e *env, p *TokenResponse) request {
				_, c := parts(t, p.RefreshToken)
				c["sub"] = "mallory"
				return refreshForm(e.signWithIssuerKey(t, c, map[string]any{"typ": "rt+jwt"}))
			},
			status: 400, code: "invalid_grant", grant: "refresh_token", result: "invalid_grant",
		},
		"issuer key, iat in the future": {
			build: func(t *testing.T, e *env, p *TokenResponse) request {
				_, c := parts(t, p.RefreshToken)
				c["iat"] = e.clock.Now().Add(time.Hour).Unix()
				return refreshForm(e.signWithIssuerKey(t, c, map[string]any{"typ": "rt+jwt"}))
			},
			status: 400, code: "invalid_grant", grant: "refresh_token", result: "invalid_grant",
		},
		"unknown session": {
			build: func(t *testing.T, e *env, p *TokenResponse) request {
				_, c := parts(t, p.RefreshToken)
				c["sid"] = randomID()
				return refreshForm(e.signWithIssuerKey(t, c, map[string]any{"typ": "rt+jwt"}))
			},
			status: 400, code: "invalid_grant", grant: "refresh_token", result: "invalid_grant",
		},
		"revoked session": {
			build: func(t *testing.T, e *env, p *TokenResponse) request {
				if rec := post(e.iss.RevokeHandler(), PathRevoke, url.Values{"token": {p.AccessToken}}); rec.Code != 200 {
					t.Fatalf("revoke: %d", rec.Code)
				}
				return refreshForm(p.RefreshToken)
			},
			status: 400, code: "invalid_grant", grant: "refresh_token", result: "invalid_grant",
		},
		"scope beyond the grant": {
			build: func(_ *testing.T, _ *env, p *TokenResponse) request {
				return form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {p.RefreshToken}, "scope": {"read admin"}})
			},
			status: 400, code: "invalid_scope", grant: "refresh_token", result: "invalid_request",
		},
		"HTTP Basic client authentication": {
			build: func(_ *testing.T, _ *env, p *TokenResponse) request {
				r := refreshForm(p.RefreshToken)
				r.hdr = map[string]string{"Authorization": "Basic Y2xpZW50OnNlY3JldA=="}
				return r
			},
			status: 401, code: "invalid_client", grant: "refresh_token", result: "invalid_request",
			checkFn: func(t *testing.T, rec *httptest.ResponseRecorder) {
				if rec.Header().Get("WWW-Authenticate") != `Basic realm="jwt-authz"` {
					t.Fatalf("WWW-Authenticate %q", rec.Header().Get("WWW-Authenticate"))
				}
			},
		},
		"client_secret parameter": {
			build: func(_ *testing.T, _ *env, p *TokenResponse) request {
				return form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {p.RefreshToken}, "client_id": {"x"}, "client_secret": {"y"}})
			},
			status: 401, code: "invalid_client", grant: "refresh_token", result: "invalid_request",
		},
		"token exchange on /token/refresh": {
			build: func(_ *testing.T, _ *env, p *TokenResponse) request {
				r := form(url.Values{"grant_type": {GrantTypeTokenExchange}, "subject_token": {p.AccessToken}, "subject_token_type": {tokenTypeJWT}})
				r.path = PathRefresh
				return r
			},
			status: 400, code: "unsupported_grant_type", grant: "unsupported", result: "invalid_request",
		},
		"token exchange without a validator": {
			build: func(_ *testing.T, _ *env, p *TokenResponse) request {
				return form(url.Values{"grant_type": {GrantTypeTokenExchange}, "subject_token": {p.AccessToken}, "subject_token_type": {tokenTypeJWT}})
			},
			status: 400, code: "unsupported_grant_type", grant: "token_exchange", result: "invalid_request",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envConfig{})
			p := e.mint(t, "alice", "read write", nil)
			r := tc.build(t, e, p)
			req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
			if r.ctype != "" {
				req.Header.Set("Content-Type", r.ctype)
			}
			for k, v := range r.hdr {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			e.iss.TokenHandler(nil).ServeHTTP(rec, req)
			if code := oauthErr(t, rec, tc.status); code != tc.code {
				t.Fatalf("error %q, want %q (%s)", code, tc.code, rec.Body)
			}
			if strings.Contains(rec.Body.String(), p.RefreshToken) || strings.Contains(rec.Body.String(), p.AccessToken) {
				t.Fatal("response echoes a token")
			}
			if tc.checkFn != nil {
				tc.checkFn(t, rec)
			}
			if got := testutil.ToFloat64(e.iss.metrics.requests.WithLabelValues(tc.grant, tc.result)); got != 1 {
				t.Fatalf("jwt_authz_token_requests_total{grant_type=%q,result=%q} = %v, want 1", tc.grant, tc.result, got)
			}
			if got := testutil.ToFloat64(e.iss.metrics.reuse); got != 0 {
				t.Fatalf("reuse detected on a refusal: %v", got)
			}
			if s := e.revoker.revoked(); len(s) > 0 && name != "revoked session" {
				t.Fatalf("refusal revoked sessions %v", s)
			}
		})
	}
}

func TestTokenEndpointStoreFailures(t *testing.T) {
	tests := map[string]struct {
		store  func(base *failingStore)
		status int
		code   string
	}{
		"get unavailable":    {func(s *failingStore) { s.getErr = errUnavailable() }, 503, "temporarily_unavailable"},
		"rotate unavailable": {func(s *failingStore) { s.rotateErr = errUnavailable() }, 503, "temporarily_unavailable"},
		"get broken":         {func(s *failingStore) { s.getErr = errFake }, 500, "server_error"},
		"rotate broken":      {func(s *failingStore) { s.rotateErr = errFake }, 500, "server_error"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fs := &failingStore{Store: newEnv(t, envConfig{}).store}
			e := newEnv(t, envConfig{store: fs})
			p := e.mint(t, "alice", "", nil)
			tc.store(fs)
			rec := e.refresh(p.RefreshToken)
			if code := oauthErr(t, rec, tc.status); code != tc.code {
				t.Fatalf("code %q", code)
			}
			if tc.status == 503 && rec.Header().Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			if got := testutil.ToFloat64(e.iss.metrics.requests.WithLabelValues("refresh_token", "error")); got != 1 {
				t.Fatalf("error counter %v", got)
			}
		})
	}
}

// TestKeysSurviveRestart checks that a pair minted before a restart (new
// Keys loaded from the same file, same store) refreshes after it.
func TestKeysSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing-key.pem")
	k1, err := LoadKeys(path, nil, AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	e1 := newEnv(t, envConfig{keys: k1})
	p := e1.mint(t, "alice", "", nil)
	k2, err := LoadKeys(path, nil, AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	e2 := newEnv(t, envConfig{keys: k2, store: e1.store, clock: e1.clock})
	tokenOK(t, e2.refresh(p.RefreshToken))
}

// TestKeyRotation follows docs/issuer.md: a token signed by the old key
// still refreshes once the old key is "previous", and the new pair is
// signed by the new key.
func TestKeyRotation(t *testing.T) {
	dir := t.TempDir()
	oldPath, newPath := filepath.Join(dir, "old.pem"), filepath.Join(dir, "new.pem")
	oldKeys, err := LoadKeys(oldPath, nil, AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	before := newEnv(t, envConfig{keys: oldKeys})
	p := before.mint(t, "alice", "", nil)

	rotated, err := LoadKeys(newPath, []string{oldPath}, AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	after := newEnv(t, envConfig{keys: rotated, store: before.store, clock: before.clock})
	next := tokenOK(t, after.refresh(p.RefreshToken))
	if h, _ := parts(t, next.AccessToken); h["kid"] != rotated.SigningKeyID() || h["alg"] != AlgES256 {
		t.Fatalf("new pair signed with %v", h)
	}

	dropped, err := LoadKeys(newPath, nil, AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	final := newEnv(t, envConfig{keys: dropped, store: before.store, clock: before.clock})
	if code := oauthErr(t, final.refresh(p.RefreshToken), 400); code != "invalid_grant" {
		t.Fatalf("token of a dropped key: %s", code)
	}
	tokenOK(t, final.refresh(next.RefreshToken))
}
