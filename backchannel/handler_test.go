package backchannel

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

func TestAcceptedLogouts(t *testing.T) {
	tests := map[string]struct {
		edit   func(f *fixture, c map[string]any)
		header map[string]any
		want   Logout // JTI and IssuedAt are filled in
	}{
		"sid and sub": {
			want: Logout{Provider: "corp", SID: "session-1", Subject: "alice"},
		},
		"sid only": {
			edit: func(_ *fixture, c map[string]any) { delete(c, "sub") },
			want: Logout{Provider: "corp", SID: "session-1"},
		},
		"sub only": {
			edit: func(_ *fixture, c map[string]any) { delete(c, "sid") },
			want: Logout{Provider: "corp", Subject: "alice"},
		},
		"no typ": {
			header: map[string]any{"typ": nil},
			want:   Logout{Provider: "corp", SID: "session-1", Subject: "alice"},
		},
		"typ with application/ prefix and capitals": {
			header: map[string]any{"typ": "application/Logout+JWT"},
			want:   Logout{Provider: "corp", SID: "session-1", Subject: "alice"},
		},
		"aud array containing the audience": {
			edit: func(_ *fixture, c map[string]any) { c["aud"] = []string{"web", audience} },
			want: Logout{Provider: "corp", SID: "session-1", Subject: "alice"},
		},
		"no exp": {
			edit: func(_ *fixture, c map[string]any) { delete(c, "exp") },
			want: Logout{Provider: "corp", SID: "session-1", Subject: "alice"},
		},
		"iat at the oldest": {
			edit: func(f *fixture, c map[string]any) {
				c["iat"] = f.clock.Now().Add(-MaxAge - skew).Unix()
				delete(c, "exp")
			},
			want: Logout{Provider: "corp", SID: "session-1", Subject: "alice"},
		},
		"iat within the skew ahead": {
			edit: func(f *fixture, c map[string]any) { c["iat"] = f.clock.Now().Add(skew).Unix() },
			want: Logout{Provider: "corp", SID: "session-1", Subject: "alice"},
		},
		"event with members": {
			edit: func(_ *fixture, c map[string]any) {
				c["events"] = map[string]any{EventURI: map[string]any{"reason": "x"}, "https://example.com/other": true}
			},
			want: Logout{Provider: "corp", SID: "session-1", Subject: "alice"},
		},
		"another enabled provider": {
			edit: func(_ *fixture, c map[string]any) { c["iss"] = altIssuer },
			want: Logout{Provider: "alt", SID: "session-1", Subject: "alice"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, nil)
			c := f.claims()
			if tc.edit != nil {
				tc.edit(f, c)
			}
			hdr := map[string]any{"typ": "logout+jwt"}
			for k, v := range tc.header {
				hdr[k] = v
			}
			tok := testkit.Sign(t, f.key, c, hdr)
			w := f.post(formBody(tok))
			if w.Code != http.StatusOK || w.Body.Len() != 0 {
				t.Fatalf("status %d, body %q; want 200 and no body", w.Code, w.Body)
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Fatalf("Cache-Control %q", cc)
			}
			want := tc.want
			want.JTI = c["jti"].(string)
			want.IssuedAt = c["iat"].(int64)
			got := f.rev.logouts()
			if len(got) != 1 || got[0] != want {
				t.Fatalf("recorded %+v, want %+v", got, want)
			}
			if n := testutil.ToFloat64(f.h.opts.Metrics.total.WithLabelValues(want.Provider, ResultRevoked)); n != 1 {
				t.Fatalf("revoked count %v", n)
			}
		})
	}
}

func TestRefusedLogouts(t *testing.T) {
	type build func(t *testing.T, f *fixture) (contentType, body string)
	token := func(edit func(f *fixture, c map[string]any), header map[string]any) build {
		return func(t *testing.T, f *fixture) (string, string) {
			c := f.claims()
			if edit != nil {
				edit(f, c)
			}
			hdr := map[string]any{"typ": "logout+jwt"}
			for k, v := range header {
				hdr[k] = v
			}
			return "application/x-www-form-urlencoded", formBody(testkit.Sign(t, f.key, c, hdr))
		}
	}
	raw := func(contentType, body string) build {
		return func(*testing.T, *fixture) (string, string) { return contentType, body }
	}
	tests := map[string]struct {
		build    build
		provider string
		result   string
		desc     string
	}{
		// The request.
		"json body":            {raw("application/json", `{"logout_token":"x"}`), NoProvider, ResultInvalidRequest, "application/x-www-form-urlencoded"},
		"no content type":      {raw("", "logout_token=x"), NoProvider, ResultInvalidRequest, "application/x-www-form-urlencoded"},
		"multipart":            {raw("multipart/form-data; boundary=x", "--x--"), NoProvider, ResultInvalidRequest, "application/x-www-form-urlencoded"},
		"empty body":           {raw("application/x-www-form-urlencoded", ""), NoProvider, ResultInvalidRequest, "logout_token is missing"},
		"empty logout_token":   {raw("application/x-www-form-urlencoded", "logout_token="), NoProvider, ResultInvalidRequest, "logout_token is missing"},
		"other parameter only": {raw("application/x-www-form-urlencoded", "id_token_hint=x"), NoProvider, ResultInvalidRequest, "logout_token is missing"},
		"two logout_tokens":    {raw("application/x-www-form-urlencoded", "logout_token=a&logout_token=b"), NoProvider, ResultInvalidRequest, "more than once"},
		"bad escape":           {raw("application/x-www-form-urlencoded", "logout_token=%zz"), NoProvider, ResultInvalidRequest, "not a valid form"},
		"oversized body": {raw("application/x-www-form-urlencoded", "logout_token="+strings.Repeat("a", MaxBodyBytes)),
			NoProvider, ResultInvalidRequest, "the body is too large"},
		// The token as a JWS.
		"not a jwt":    {raw("application/x-www-form-urlencoded", "logout_token=abc"), NoProvider, ResultInvalidToken, "not a well-formed"},
		"two segments": {raw("application/x-www-form-urlencoded", "logout_token=eyJhbGciOiJFUzI1NiJ9.e30"), NoProvider, ResultInvalidToken, "not a well-formed"},
		"oversized token": {func(t *testing.T, f *fixture) (string, string) {
			c := f.claims()
			c["pad"] = strings.Repeat("a", f.maxSize)
			return "application/x-www-form-urlencoded", formBody(f.sign(t, c))
		}, NoProvider, ResultInvalidToken, "too large"},
		"alg none": {func(t *testing.T, f *fixture) (string, string) {
			return "application/x-www-form-urlencoded", formBody(testkit.Unsigned(t, f.claims())[0])
		}, NoProvider, ResultInvalidToken, "alg"},
		"alg none with a signature": {func(t *testing.T, f *fixture) (string, string) {
			return "application/x-www-form-urlencoded", formBody(testkit.Unsigned(t, f.claims())[1])
		}, NoProvider, ResultInvalidToken, "alg"},
		"hmac with the public key": {func(t *testing.T, f *fixture) (string, string) {
			return "application/x-www-form-urlencoded", formBody(testkit.HMACWithPublicKey(t, f.key.Public(), f.key.KID, f.claims()))
		}, NoProvider, ResultInvalidToken, "alg"},
		"wrong key, same kid": {func(t *testing.T, f *fixture) (string, string) {
			k := testkit.NewKey(t, "ES256", f.key.KID)
			return "application/x-www-form-urlencoded", formBody(testkit.Sign(t, k, f.claims(), map[string]any{"typ": "logout+jwt"}))
		}, "corp", ResultInvalidToken, "signature does not verify"},
		"another provider's key": {func(t *testing.T, f *fixture) (string, string) {
			return "application/x-www-form-urlencoded", formBody(testkit.Sign(t, f.other, f.claims(), map[string]any{"typ": "logout+jwt"}))
		}, "corp", ResultInvalidToken, "kid"},
		"unknown kid": {token(nil, map[string]any{"kid": "nope"}), NoProvider, ResultInvalidToken, "kid"},
		"tampered": {func(t *testing.T, f *fixture) (string, string) {
			return "application/x-www-form-urlencoded", formBody(tamper(f.sign(t, f.claims())))
		}, "corp", ResultInvalidToken, "signature does not verify"},
		"unknown issuer": {token(func(_ *fixture, c map[string]any) { c["iss"] = "https://evil.example.com/" }, nil), NoProvider, ResultInvalidToken, "iss is not a configured provider"},
		"no issuer":      {token(func(_ *fixture, c map[string]any) { delete(c, "iss") }, nil), NoProvider, ResultInvalidToken, "iss is not a configured provider"},
		"provider not enabled": {func(t *testing.T, f *fixture) (string, string) {
			c := f.claims()
			c["iss"] = otherIssuer
			return "application/x-www-form-urlencoded", formBody(testkit.Sign(t, f.other, c, map[string]any{"typ": "logout+jwt"}))
		}, "other", ResultNotEnabled, "not enabled"},
		// The claims, each rule broken alone.
		"typ JWT":        {token(nil, map[string]any{"typ": "JWT"}), "corp", ResultInvalidToken, "typ must be logout+jwt"},
		"typ at+jwt":     {token(nil, map[string]any{"typ": "at+jwt"}), "corp", ResultInvalidToken, "typ must be logout+jwt"},
		"wrong aud":      {token(func(_ *fixture, c map[string]any) { c["aud"] = "orders-api" }, nil), "corp", ResultInvalidToken, "aud"},
		"no aud":         {token(func(_ *fixture, c map[string]any) { delete(c, "aud") }, nil), "corp", ResultInvalidToken, "aud"},
		"aud not string": {token(func(_ *fixture, c map[string]any) { c["aud"] = 7 }, nil), NoProvider, ResultInvalidToken, "not a well-formed"},
		"no iat":         {token(func(_ *fixture, c map[string]any) { delete(c, "iat") }, nil), "corp", ResultInvalidToken, "iat is missing"},
		"iat in the future": {token(func(f *fixture, c map[string]any) {
			c["iat"] = f.clock.Now().Add(skew + time.Second).Unix()
		}, nil), "corp", ResultInvalidToken, "iat is in the future"},
		"iat too old": {token(func(f *fixture, c map[string]any) {
			c["iat"] = f.clock.Now().Add(-MaxAge - skew - time.Second).Unix()
			delete(c, "exp")
		}, nil), "corp", ResultInvalidToken, "iat is more than 5m0s old"},
		"iat not a number": {token(func(_ *fixture, c map[string]any) { c["iat"] = "now" }, nil), NoProvider, ResultInvalidToken, "not a well-formed"},
		"expired": {token(func(f *fixture, c map[string]any) {
			c["iat"] = f.clock.Now().Add(-time.Minute).Unix()
			c["exp"] = f.clock.Now().Add(-skew).Unix()
		}, nil), "corp", ResultInvalidToken, "expired"},
		"no events":       {token(func(_ *fixture, c map[string]any) { delete(c, "events") }, nil), "corp", ResultInvalidToken, "events is missing"},
		"events a string": {token(func(_ *fixture, c map[string]any) { c["events"] = EventURI }, nil), "corp", ResultInvalidToken, "events must be a JSON object"},
		"events an array": {token(func(_ *fixture, c map[string]any) { c["events"] = []string{EventURI} }, nil), "corp", ResultInvalidToken, "events must be a JSON object"},
		"events null":     {token(func(_ *fixture, c map[string]any) { c["events"] = nil }, nil), "corp", ResultInvalidToken, "events must be a JSON object"},
		"events without the event": {token(func(_ *fixture, c map[string]any) {
			c["events"] = map[string]any{"http://schemas.openid.net/event/other": map[string]any{}}
		}, nil), "corp", ResultInvalidToken, "has no " + EventURI},
		"event not an object": {token(func(_ *fixture, c map[string]any) { c["events"] = map[string]any{EventURI: true} }, nil), "corp", ResultInvalidToken, "must be a JSON object"},
		"event a string":      {token(func(_ *fixture, c map[string]any) { c["events"] = map[string]any{EventURI: "{}"} }, nil), "corp", ResultInvalidToken, "must be a JSON object"},
		"neither sid nor sub": {token(func(_ *fixture, c map[string]any) { delete(c, "sid"); delete(c, "sub") }, nil), "corp", ResultInvalidToken, "sid and sub are both missing"},
		"empty sid and sub":   {token(func(_ *fixture, c map[string]any) { c["sid"] = ""; c["sub"] = "" }, nil), "corp", ResultInvalidToken, "sid and sub are both missing"},
		"sid not a string":    {token(func(_ *fixture, c map[string]any) { c["sid"] = 1 }, nil), NoProvider, ResultInvalidToken, "not a well-formed"},
		"sid too long":        {token(func(_ *fixture, c map[string]any) { c["sid"] = strings.Repeat("s", 257) }, nil), "corp", ResultInvalidToken, "longer than 256"},
		"nonce":               {token(func(_ *fixture, c map[string]any) { c["nonce"] = "n-0S6_WzA2Mj" }, nil), "corp", ResultInvalidToken, "nonce must not be present"},
		"nonce null":          {token(func(_ *fixture, c map[string]any) { c["nonce"] = nil }, nil), "corp", ResultInvalidToken, "nonce must not be present"},
		"no jti":              {token(func(_ *fixture, c map[string]any) { delete(c, "jti") }, nil), "corp", ResultInvalidToken, "jti is missing"},
		"an id token":         {token(func(_ *fixture, c map[string]any) { delete(c, "events"); c["nonce"] = "n" }, nil), "corp", ResultInvalidToken, "nonce"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, nil)
			ct, body := tc.build(t, f)
			w := f.do(http.MethodPost, ct, body)
			wantOAuthError(t, w, http.StatusBadRequest, tc.desc)
			if tok := tokenIn(body); len(tok) > 20 && strings.Contains(w.Body.String(), tok[:20]) {
				t.Fatalf("the response echoes the token: %s", w.Body)
			}
			if got := f.rev.logouts(); len(got) != 0 {
				t.Fatalf("recorded %+v for a refused token", got)
			}
			if n := testutil.ToFloat64(f.h.opts.Metrics.total.WithLabelValues(tc.provider, tc.result)); n != 1 {
				t.Fatalf("jwt_authz_backchannel_logout_total{provider=%q,result=%q} = %v, want 1", tc.provider, tc.result, n)
			}
			if strings.Contains(f.logs.String(), "backchannel_logout\"") {
				t.Fatalf("an audit line for a refused token: %s", f.logs)
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t, nil)
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodHead} {
		w := f.do(m, "application/x-www-form-urlencoded", "")
		if m == http.MethodHead {
			if w.Code != http.StatusMethodNotAllowed {
				t.Fatalf("HEAD: status %d", w.Code)
			}
			continue
		}
		wantOAuthError(t, w, http.StatusMethodNotAllowed, "only POST")
		if a := w.Header().Get("Allow"); a != http.MethodPost {
			t.Fatalf("%s: Allow %q", m, a)
		}
	}
}

func TestReplayedJTIRefused(t *testing.T) {
	f := newFixture(t, nil)
	c := f.claims()
	tok := f.sign(t, c)
	if w := f.post(formBody(tok)); w.Code != http.StatusOK {
		t.Fatalf("first: %d %s", w.Code, w.Body)
	}
	wantOAuthError(t, f.post(formBody(tok)), http.StatusBadRequest, "jti was already used")
	// Another token with the same jti is a replay too.
	c2 := f.claims()
	c2["jti"] = c["jti"]
	c2["sid"] = "session-2"
	wantOAuthError(t, f.post(formBody(f.sign(t, c2))), http.StatusBadRequest, "jti was already used")
	// The same jti from another provider is another id.
	c3 := f.claims()
	c3["jti"] = c["jti"]
	c3["iss"] = altIssuer
	if w := f.post(formBody(f.sign(t, c3))); w.Code != http.StatusOK {
		t.Fatalf("same jti at another provider: %d %s", w.Code, w.Body)
	}
	if n := testutil.ToFloat64(f.h.opts.Metrics.total.WithLabelValues("corp", ResultReplayed)); n != 2 {
		t.Fatalf("replayed count %v, want 2", n)
	}
}

func TestStoreFailureCanBeRetried(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.sign(t, f.claims())
	f.rev.fail = errors.New("redis down")
	wantOAuthError(t, f.post(formBody(tok)), http.StatusBadRequest, "retry later")
	if n := testutil.ToFloat64(f.h.opts.Metrics.total.WithLabelValues("corp", ResultUnavailable)); n != 1 {
		t.Fatalf("unavailable count %v", n)
	}
	// The identity provider sends the same token again once the store is
	// back: it is not taken for a replay.
	f.rev.fail = nil
	if w := f.post(formBody(tok)); w.Code != http.StatusOK {
		t.Fatalf("retry: %d %s", w.Code, w.Body)
	}
}

func TestReplayCacheFailureRefuses(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Replay = failingCache{} })
	wantOAuthError(t, f.post(formBody(f.sign(t, f.claims()))), http.StatusBadRequest, "retry later")
}

func TestAuditLine(t *testing.T) {
	f := newFixture(t, nil)
	c := f.claims()
	tok := f.sign(t, c)
	if w := f.post(formBody(tok)); w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if a := f.rev.actors; len(a) != 1 || a[0].Name != "backchannel_logout:corp" || a[0].RemoteAddr == "" {
		t.Fatalf("revocation actor %+v", a)
	}
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		if strings.Contains(l, `"audit":"backchannel_logout"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line == nil {
		t.Fatalf("no audit line in %s", f.logs)
	}
	if line["provider"] != "corp" || line["sid_hash"] != idHash("session-1") || line["sub_hash"] != idHash("alice") || line["jti_hash"] != idHash(c["jti"].(string)) {
		t.Fatalf("audit line %v", line)
	}
	for _, secret := range []string{tok, strings.Split(tok, ".")[1], "session-1", "alice", c["jti"].(string)} {
		if strings.Contains(f.logs.String(), secret) {
			t.Fatalf("the log holds %.30q: %s", secret, f.logs)
		}
	}
}

func TestMetricsStartAtZero(t *testing.T) {
	f := newFixture(t, nil)
	f.h.opts.Metrics.Init("corp")
	if n := testutil.CollectAndCount(f.reg, "jwt_authz_backchannel_logout_total"); n != 2*len(Results()) {
		t.Fatalf("%d series, want %d", n, 2*len(Results()))
	}
	f.h.opts.Metrics.Forget("corp")
	if n := testutil.CollectAndCount(f.reg, "jwt_authz_backchannel_logout_total"); n != len(Results()) {
		t.Fatalf("%d series after Forget, want %d", n, len(Results()))
	}
}

func wantOAuthError(t *testing.T, w interface {
	Result() *http.Response
}, status int, desc string) {
	t.Helper()
	res := w.Result()
	defer res.Body.Close()
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("status %d, body not JSON: %v", res.StatusCode, err)
	}
	if res.StatusCode != status || body.Error != "invalid_request" || !strings.Contains(body.Description, desc) {
		t.Fatalf("status %d, %+v; want %d invalid_request with %q", res.StatusCode, body, status, desc)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q", cc)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
}

// tokenIn returns the logout_token of a form body, if any.
func tokenIn(body string) string {
	v, _ := url.ParseQuery(body)
	return v.Get("logout_token")
}

// tamper changes one character in the middle of the signature.
func tamper(raw string) string {
	parts := strings.Split(raw, ".")
	p := []byte(parts[2])
	if p[len(p)/2] == 'A' {
		p[len(p)/2] = 'B'
	} else {
		p[len(p)/2] = 'A'
	}
	return parts[0] + "." + parts[1] + "." + string(p)
}

func TestFormWithCharsetAndOtherParameters(t *testing.T) {
	f := newFixture(t, nil)
	body := formBody(f.sign(t, f.claims())) + "&state=ignored"
	if w := f.do(http.MethodPost, "application/x-www-form-urlencoded; charset=UTF-8", body); w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}
