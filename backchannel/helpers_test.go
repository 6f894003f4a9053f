package backchannel

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/jwks"
	"github.com/jwt-authz/jwt-authz/replay"
	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/token"
)

const (
	corpIssuer  = "https://idp.example.com/"
	otherIssuer = "https://other.example.com/"
	altIssuer   = "https://alt.example.com/"
	audience    = "gateway"
	skew        = 30 * time.Second
)

// recorder is a Revoker that remembers what it was asked to record.
type recorder struct {
	mu     sync.Mutex
	got    []Logout
	actors []revocation.Actor
	fail   error
}

func (r *recorder) Revoke(ctx context.Context, l Logout) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.got = append(r.got, l)
	a, _ := revocation.ActorFrom(ctx)
	r.actors = append(r.actors, a)
	return nil
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = nil
}

func (r *recorder) logouts() []Logout {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Logout(nil), r.got...)
}

// failingCache is a replay.Cache that cannot answer.
type failingCache struct{}

func (failingCache) Claim(context.Context, string, string, time.Time) (bool, error) {
	return false, errors.New("replay store unreachable")
}

type fixture struct {
	h       *Handler
	rev     *recorder
	key     *testkit.Key // corp's and alt's signing key
	other   *testkit.Key // the key of provider "other"
	clock   *testkit.Clock
	reg     *prometheus.Registry
	logs    *testkit.LogBuffer
	maxSize int
}

// newFixture serves three providers: corp and alt with back-channel
// logout enabled (audience "gateway"), other without.
func newFixture(t testing.TB, mutate func(*Options)) *fixture {
	t.Helper()
	f := &fixture{
		rev:   &recorder{},
		key:   testkit.NewKey(t, "ES256", "k1"),
		other: testkit.NewKey(t, "ES256", "o1"),
		clock: testkit.NewClock(time.Unix(1_800_000_000, 0)),
		reg:   prometheus.NewRegistry(),
		logs:  &testkit.LogBuffer{},
	}
	static := func(k *testkit.Key) *jwks.Static {
		jk, err := jwks.FromPublicKey(k.KID, k.Alg, k.Public())
		if err != nil {
			t.Fatal(err)
		}
		return jwks.NewStatic("test", []*jwks.Key{jk})
	}
	corpKeys := static(f.key)
	v, err := token.NewVerifier([]*token.Provider{
		{Name: "corp", Issuer: corpIssuer, Audiences: []string{"orders-api"}, Typ: "at+jwt", RequireExp: true, ClockSkew: skew, Keys: corpKeys},
		{Name: "alt", Issuer: altIssuer, ClockSkew: skew, Keys: corpKeys},
		{Name: "other", Issuer: otherIssuer, ClockSkew: skew, Keys: static(f.other)},
	}, token.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.maxSize = v.MaxTokenBytes()
	settings := map[string]Settings{
		"corp":  {Enabled: true, Audience: audience, ClockSkew: skew},
		"alt":   {Enabled: true, Audience: audience, ClockSkew: skew},
		"other": {Enabled: false, Audience: audience, ClockSkew: skew},
	}
	opts := Options{
		Verifier: func() Verifier { return v },
		Settings: func(name string) (Settings, bool) { s, ok := settings[name]; return s, ok },
		Replay:   replay.NewMemory(1000),
		Revoker:  f.rev,
		Metrics:  NewMetrics(f.reg),
		Logger:   f.logs.JSONLogger(-8),
		Clock:    f.clock.Now,
	}
	if mutate != nil {
		mutate(&opts)
	}
	f.h = NewHandler(opts)
	return f
}

// claims is a valid logout token's claim set for corp at the fixture's
// time.
func (f *fixture) claims() map[string]any {
	now := f.clock.Now().Unix()
	return map[string]any{
		"iss":    corpIssuer,
		"aud":    audience,
		"iat":    now,
		"exp":    now + 120,
		"jti":    testkit.RandomID(),
		"sid":    "session-1",
		"sub":    "alice",
		"events": map[string]any{EventURI: map[string]any{}},
	}
}

// sign signs claims with corp's key and typ logout+jwt.
func (f *fixture) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	return testkit.Sign(t, f.key, claims, map[string]any{"typ": "logout+jwt"})
}

func formBody(tok string) string {
	return url.Values{"logout_token": {tok}}.Encode()
}

// post sends body as a form to the handler.
func (f *fixture) post(body string) *httptest.ResponseRecorder {
	return f.do(http.MethodPost, "application/x-www-form-urlencoded", body)
}

func (f *fixture) do(method, contentType, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, Path, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}
