package issuer

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// FuzzTokenEndpoint feeds arbitrary form bodies to the token endpoint (both
// paths). It must never panic, never answer 5xx, and always answer JSON that
// is either a token response or an OAuth error.
func FuzzTokenEndpoint(f *testing.F) {
	e := newEnv(f, envConfig{opts: func(o *Options) { o.RefreshReuseGrace = 5 * time.Second }})
	p := e.mint(f, "alice", "read write", nil)
	seeds := []string{
		"",
		"grant_type=refresh_token&refresh_token=" + p.RefreshToken,
		"grant_type=refresh_token&refresh_token=" + p.AccessToken,
		"grant_type=refresh_token&refresh_token=" + p.RefreshToken + "&scope=read",
		"refresh_token=" + p.RefreshToken,
		url.Values{"grant_type": {GrantTypeTokenExchange}, "subject_token": {"corp-token"}, "subject_token_type": {tokenTypeJWT}}.Encode(),
		url.Values{"grant_type": {GrantTypeTokenExchange}, "subject_token": {"big-token"}, "subject_token_type": {tokenTypeJWT}, "audience": {"orders-api", "x"}}.Encode(),
		"grant_type=password&username=a&password=b",
		"grant_type=refresh_token&refresh_token=a.b.c",
		"grant_type=refresh_token&refresh_token=eyJhbGciOiJub25lIn0.e30.",
		"grant_type=%zz",
		"a=1&a=2&grant_type=refresh_token",
		"client_secret=x&grant_type=refresh_token",
		"grant_type=refresh_token&refresh_token=" + p.RefreshToken + "&scope=%01",
	}
	for _, s := range seeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	h := e.iss.TokenHandler(testExchange())
	f.Fuzz(func(t *testing.T, body string, refreshPath bool) {
		path := PathToken
		if refreshPath {
			path = PathRefresh
		}
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader([]byte(body)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("non-JSON answer %q: %v", rec.Body, err)
		}
		_, isErr := out["error"]
		_, isToken := out["access_token"]
		if isErr == isToken || (rec.Code == http.StatusOK) != isToken {
			t.Fatalf("status %d with body %s", rec.Code, rec.Body)
		}
	})
}
