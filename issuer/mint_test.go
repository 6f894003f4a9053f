package issuer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/session"
)

func TestMintTokens(t *testing.T) {
	for _, alg := range []string{AlgEdDSA, AlgES256, AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			e := newEnv(t, envConfig{keys: testKeys(t, alg), opts: func(o *Options) {
				o.Audiences = []string{"orders-api", "billing-api"}
			}})
			resp := e.mint(t, "alice", "read write", map[string]any{"email": "alice@example.com", "tenant": "acme"})
			if resp.TokenType != "Bearer" || resp.Scope != "read write" || resp.ExpiresIn != int64(DefaultAccessTokenTTL/time.Second) {
				t.Fatalf("response %+v", resp)
			}
			now := e.clock.Now().Unix()

			ah, ac := parts(t, resp.AccessToken)
			if ah["typ"] != "at+jwt" || ah["kid"] != e.iss.keys.SigningKeyID() || ah["alg"] != alg {
				t.Fatalf("access token header %v", ah)
			}
			for name, want := range map[string]any{
				"iss": testIssuerURL, "sub": "alice", "scope": "read write", "client_id": DefaultClientID,
				"exp": float64(now + 300), "iat": float64(now), "email": "alice@example.com", "tenant": "acme",
			} {
				if ac[name] != want {
					t.Fatalf("access claim %s = %v, want %v", name, ac[name], want)
				}
			}
			if aud, _ := ac["aud"].([]any); len(aud) != 2 || aud[0] != "orders-api" || aud[1] != "billing-api" {
				t.Fatalf("access aud %v", ac["aud"])
			}
			sid, _ := ac["sid"].(string)
			jti, _ := ac["jti"].(string)
			if len(sid) != 22 || len(jti) != 22 {
				t.Fatalf("sid %q jti %q: want 128-bit base64url", sid, jti)
			}

			rh, rc := parts(t, resp.RefreshToken)
			if rh["typ"] != "rt+jwt" || rh["kid"] != e.iss.keys.SigningKeyID() {
				t.Fatalf("refresh token header %v", rh)
			}
			if len(rc) != 7 || rc["iss"] != testIssuerURL || rc["aud"] != testIssuerURL || rc["sub"] != "alice" ||
				rc["sid"] != sid || rc["jti"] == jti || rc["exp"] != float64(now+int64(DefaultRefreshTokenTTL/time.Second)) {
				t.Fatalf("refresh claims %v", rc)
			}

			s, err := e.store.Get(t.Context(), sid)
			if err != nil {
				t.Fatalf("session not stored: %v", err)
			}
			if s.Subject != "alice" || s.Scope != "read write" || s.RefreshJTI != rc["jti"] ||
				!s.ExpiresAt.Equal(e.clock.Now().Add(DefaultSessionMaxLifetime)) {
				t.Fatalf("stored session %+v", s)
			}
			if got := testutil.ToFloat64(e.iss.metrics.requests.WithLabelValues("admin", "issued")); got != 1 {
				t.Fatalf("issued counter %v", got)
			}
		})
	}
}

// TestMintedTokensVerifyWithJWKS checks what relying parties do: verify
// with the published JWKS alone and validate the claims with a JOSE library.
func TestMintedTokensVerifyWithJWKS(t *testing.T) {
	for _, alg := range []string{AlgEdDSA, AlgES256, AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			e := newEnv(t, envConfig{keys: testKeys(t, alg), clock: testkit.NewClock(time.Now())})
			resp := e.mint(t, "alice", "read", nil)
			set, err := jwk.Parse(e.iss.keys.JWKS())
			if err != nil {
				t.Fatal(err)
			}
			tok, err := jwt.Parse([]byte(resp.AccessToken), jwt.WithKeySet(set), jwt.WithValidate(true),
				jwt.WithIssuer(testIssuerURL), jwt.WithAudience("orders-api"))
			if err != nil {
				t.Fatalf("access token does not verify with the JWKS: %v", err)
			}
			if tok.Subject() != "alice" {
				t.Fatalf("sub %q", tok.Subject())
			}
			if _, err := jws.Verify([]byte(resp.RefreshToken), jws.WithKeySet(set)); err != nil {
				t.Fatalf("refresh token does not verify with the JWKS: %v", err)
			}
		})
	}
}

func TestMintCapsLifetimesAtSessionEnd(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *Options) { o.SessionMaxLifetime = 2 * time.Minute }})
	resp := e.mint(t, "alice", "", nil)
	_, ac := parts(t, resp.AccessToken)
	_, rc := parts(t, resp.RefreshToken)
	end := float64(e.clock.Now().Add(2 * time.Minute).Unix())
	if ac["exp"] != end || rc["exp"] != end || resp.ExpiresIn != 120 {
		t.Fatalf("access exp %v, refresh exp %v, expires_in %d; want both capped at %v", ac["exp"], rc["exp"], resp.ExpiresIn, end)
	}
	if _, ok := ac["scope"]; ok {
		t.Fatalf("empty scope encoded: %v", ac)
	}
}

func TestMintInvalidRequest(t *testing.T) {
	tests := map[string]MintRequest{
		"no subject":         {Scope: "read"},
		"subject too long":   {Subject: strings.Repeat("a", maxSubjectBytes+1)},
		"control in subject": {Subject: "al\nice"},
		"invalid UTF-8":      {Subject: "al\xffice"},
		"scope with quote":   {Subject: "alice", Scope: `read "write"`},
		"scope double space": {Subject: "alice", Scope: "read  write"},
		"reserved claim sub": {Subject: "alice", Claims: map[string]any{"sub": "mallory"}},
		"reserved claim exp": {Subject: "alice", Claims: map[string]any{"exp": 1}},
		"reserved claim sid": {Subject: "alice", Claims: map[string]any{"sid": "other"}},
		"empty claim name":   {Subject: "alice", Claims: map[string]any{"": 1}},
		"claims too large":   {Subject: "alice", Claims: map[string]any{"blob": strings.Repeat("x", maxClaimsBytes)}},
		"claim not JSON":     {Subject: "alice", Claims: map[string]any{"f": func() {}}},
	}
	for name, req := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envConfig{})
			resp, err := e.iss.Mint(t.Context(), req)
			if !errors.Is(err, ErrInvalidRequest) || resp != nil {
				t.Fatalf("Mint: %v, %v; want ErrInvalidRequest", resp, err)
			}
			if got := testutil.ToFloat64(e.iss.metrics.requests.WithLabelValues("admin", "invalid_request")); got != 1 {
				t.Fatalf("invalid_request counter %v", got)
			}
		})
	}
}

func TestMintStoreFailure(t *testing.T) {
	tests := map[string]struct {
		err         error
		unavailable bool
	}{
		"unreachable": {err: session.ErrUnavailable, unavailable: true},
		"other":       {err: errFake},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envConfig{store: &failingStore{Store: newEnv(t, envConfig{}).store, createErr: tc.err}})
			_, err := e.iss.Mint(context.Background(), MintRequest{Subject: "alice"})
			if err == nil || errors.Is(err, ErrTemporarilyUnavailable) != tc.unavailable {
				t.Fatalf("Mint: %v", err)
			}
			if got := testutil.ToFloat64(e.iss.metrics.requests.WithLabelValues("admin", "error")); got != 1 {
				t.Fatalf("error counter %v", got)
			}
		})
	}
}

func TestNewOptions(t *testing.T) {
	keys := testKeys(t, AlgEdDSA)
	good := Options{Issuer: testIssuerURL, Audiences: []string{"api"}}
	tests := map[string]func(*Options){
		"relative issuer":        func(o *Options) { o.Issuer = "/auth" },
		"issuer with query":      func(o *Options) { o.Issuer = testIssuerURL + "?x=1" },
		"issuer with fragment":   func(o *Options) { o.Issuer = testIssuerURL + "#f" },
		"ftp issuer":             func(o *Options) { o.Issuer = "ftp://auth.example.com" },
		"no audience":            func(o *Options) { o.Audiences = nil },
		"empty audience":         func(o *Options) { o.Audiences = []string{""} },
		"algorithm mismatch":     func(o *Options) { o.Algorithm = AlgRS256 },
		"negative grace":         func(o *Options) { o.RefreshReuseGrace = -time.Second },
		"grace beyond refresh":   func(o *Options) { o.RefreshReuseGrace = time.Hour; o.RefreshTokenTTL = time.Hour },
		"sub-second access ttl":  func(o *Options) { o.AccessTokenTTL = time.Millisecond },
		"negative session limit": func(o *Options) { o.SessionMaxLifetime = -time.Hour },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			o := good
			mutate(&o)
			if _, err := New(keys, newEnv(t, envConfig{}).store, &recordingRevoker{}, o); err == nil {
				t.Fatal("New accepted invalid options")
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		if _, err := New(keys, newEnv(t, envConfig{}).store, &recordingRevoker{}, good); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("missing collaborators", func(t *testing.T) {
		if _, err := New(keys, nil, &recordingRevoker{}, good); err == nil {
			t.Fatal("New without a store")
		}
		if _, err := New(keys, newEnv(t, envConfig{}).store, nil, good); err == nil {
			t.Fatal("New without a revoker")
		}
		if _, err := New(nil, newEnv(t, envConfig{}).store, &recordingRevoker{}, good); err == nil {
			t.Fatal("New without keys")
		}
	})
}

func TestAppendClaims(t *testing.T) {
	registered := []byte(`{"iss":"x"}`)
	tests := map[string]struct {
		extra   string
		want    string
		wantErr bool
	}{
		"none":          {"", `{"iss":"x"}`, false},
		"empty object":  {"{}", `{"iss":"x"}`, false},
		"members":       {`{"a":1,"b":"c"}`, `{"iss":"x","a":1,"b":"c"}`, false},
		"array":         {`[1]`, "", true},
		"truncated":     {`{"a":`, "", true},
		"trailing junk": {`{"a":1}}`, "", true},
		"injection":     {`{"a":1},{"sub":"x"}`, "", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := appendClaims(registered, []byte(tc.extra))
			if (err != nil) != tc.wantErr || (!tc.wantErr && string(got) != tc.want) {
				t.Fatalf("appendClaims = %s, %v", got, err)
			}
		})
	}
}
