package issuer

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRevokeHandler(t *testing.T) {
	tests := map[string]struct {
		token      func(t *testing.T, e *env, p *TokenResponse) string
		wantRevoke bool
	}{
		"refresh token": {token: func(_ *testing.T, _ *env, p *TokenResponse) string { return p.RefreshToken }, wantRevoke: true},
		"access token":  {token: func(_ *testing.T, _ *env, p *TokenResponse) string { return p.AccessToken }, wantRevoke: true},
		"expired access token": {token: func(_ *testing.T, e *env, p *TokenResponse) string {
			e.clock.Advance(time.Hour)
			return p.AccessToken
		}, wantRevoke: true},
		"garbage": {token: func(*testing.T, *env, *TokenResponse) string { return "garbage" }},
		"token of another issuer": {token: func(t *testing.T, _ *env, _ *TokenResponse) string {
			other := newEnv(t, envConfig{opts: func(o *Options) { o.Issuer = "https://other.example.com" }})
			return other.mint(t, "alice", "", nil).RefreshToken
		}},
		"token signed by an unknown key": {token: func(t *testing.T, e *env, _ *TokenResponse) string {
			return newEnv(t, envConfig{clock: e.clock}).mint(t, "alice", "", nil).AccessToken
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envConfig{})
			p := e.mint(t, "alice", "", nil)
			_, c := parts(t, p.AccessToken)
			sid := c["sid"].(string)
			raw := tc.token(t, e, p)
			rec := post(e.iss.RevokeHandler(), PathRevoke, url.Values{"token": {raw}, "token_type_hint": {"whatever"}})
			if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("status %d body %q headers %v", rec.Code, rec.Body, rec.Header())
			}
			revoked := e.revoker.revoked()
			if tc.wantRevoke != (len(revoked) == 1 && revoked[0] == sid) || (!tc.wantRevoke && len(revoked) != 0) {
				t.Fatalf("revoked %v, want revocation %v of %s", revoked, tc.wantRevoke, sid)
			}
			s, err := e.store.Get(t.Context(), sid)
			if err != nil || s.Revoked != tc.wantRevoke {
				t.Fatalf("stored session revoked=%v err=%v", s.Revoked, err)
			}
			if tc.wantRevoke {
				if code := oauthErr(t, e.refresh(p.RefreshToken), 400); code != "invalid_grant" {
					t.Fatalf("refresh after revocation: %s", code)
				}
			}
		})
	}
}

func TestRevokeHandlerErrors(t *testing.T) {
	tests := map[string]struct {
		method, ctype, body  string
		revokerErr, storeErr error
		status               int
	}{
		"missing token":     {method: http.MethodPost, ctype: "application/x-www-form-urlencoded", body: "token_type_hint=access_token", status: 400},
		"GET":               {method: http.MethodGet, status: 405},
		"JSON":              {method: http.MethodPost, ctype: "application/json", body: `{"token":"x"}`, status: 400},
		"oversized":         {method: http.MethodPost, ctype: "application/x-www-form-urlencoded", body: "token=" + strings.Repeat("a", maxFormBytes), status: 413},
		"revoker failure":   {method: http.MethodPost, ctype: "application/x-www-form-urlencoded", revokerErr: errFake, status: 503},
		"store unavailable": {method: http.MethodPost, ctype: "application/x-www-form-urlencoded", storeErr: errUnavailable(), status: 503},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fs := &failingStore{Store: newEnv(t, envConfig{}).store}
			e := newEnv(t, envConfig{store: fs})
			p := e.mint(t, "alice", "", nil)
			fs.revokeErr, e.revoker.err = tc.storeErr, tc.revokerErr
			body := tc.body
			if body == "" {
				body = url.Values{"token": {p.RefreshToken}}.Encode()
			}
			req := httptest.NewRequest(tc.method, PathRevoke, strings.NewReader(body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			rec := httptest.NewRecorder()
			e.iss.RevokeHandler().ServeHTTP(rec, req)
			oauthErr(t, rec, tc.status)
			if tc.status == 405 && rec.Header().Get("Allow") != "POST" {
				t.Fatalf("Allow %q", rec.Header().Get("Allow"))
			}
		})
	}
}
