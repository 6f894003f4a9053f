package issuer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/session"
	"github.com/jwt-authz/jwt-authz/session/memory"
)

const testIssuerURL = "https://auth.example.com"

// clockStart is where the tests' fake clocks start.
var clockStart = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// recordingRevoker records RevokeSession calls and fails with err when set.
type recordingRevoker struct {
	mu   sync.Mutex
	sids []string
	err  error
}

func (r *recordingRevoker) RevokeSession(_ context.Context, sid string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.sids = append(r.sids, sid)
	return nil
}

func (r *recordingRevoker) revoked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sids...)
}

// env is an Issuer under test with its collaborators.
type env struct {
	iss     *Issuer
	clock   *testkit.Clock
	revoker *recordingRevoker
	store   session.Store
	reg     *prometheus.Registry
	logs    *testkit.LogBuffer
}

// testKeys loads (generating) a key of alg in a fresh directory.
func testKeys(t testing.TB, alg string) *Keys {
	t.Helper()
	k, err := LoadKeys(filepath.Join(t.TempDir(), "signing-key.pem"), nil, alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type envConfig struct {
	keys    *Keys
	store   session.Store
	clock   *testkit.Clock
	revoker *recordingRevoker
	opts    func(*Options)
}

func newEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	if cfg.keys == nil {
		cfg.keys = testKeys(t, AlgEdDSA)
	}
	if cfg.store == nil {
		cfg.store = memory.New()
	}
	if cfg.clock == nil {
		cfg.clock = testkit.NewClock(clockStart)
	}
	if cfg.revoker == nil {
		cfg.revoker = &recordingRevoker{}
	}
	e := &env{clock: cfg.clock, revoker: cfg.revoker, store: cfg.store, reg: prometheus.NewRegistry(), logs: &testkit.LogBuffer{}}
	m, err := NewMetrics(e.reg)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Issuer:            testIssuerURL,
		Audiences:         []string{"orders-api"},
		Algorithm:         cfg.keys.Algorithm(),
		ExchangeProviders: []string{"corp"},
		Metrics:           m,
		Logger:            e.logs.JSONLogger(slog.LevelDebug),
		Clock:             cfg.clock.Now,
	}
	if cfg.opts != nil {
		cfg.opts(&opts)
	}
	e.iss, err = New(cfg.keys, cfg.store, e.revoker, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) mint(t testing.TB, sub, scope string, claims map[string]any) *TokenResponse {
	t.Helper()
	resp, err := e.iss.Mint(context.Background(), MintRequest{Subject: sub, Scope: scope, Claims: claims, ClientAddr: "192.0.2.1"})
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return resp
}

// post sends a form to h and returns the recorded response.
func post(h http.Handler, path string, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = "192.0.2.7:4711"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// refresh posts a refresh grant to the token endpoint.
func (e *env) refresh(refreshToken string) *httptest.ResponseRecorder {
	return post(e.iss.TokenHandler(nil), PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
}

// tokenOK decodes a successful token response.
func tokenOK(t testing.TB, rec *httptest.ResponseRecorder) *TokenResponse {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	checkNoStore(t, rec)
	var resp TokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("decode token response: %v", err)
	}
	if resp.AccessToken == "" || resp.RefreshToken == "" || resp.TokenType != "Bearer" || resp.ExpiresIn <= 0 {
		t.Fatalf("incomplete token response %s", rec.Body)
	}
	return &resp
}

// oauthErr checks an error response and returns its error code.
func oauthErr(t testing.TB, rec *httptest.ResponseRecorder, status int) string {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	checkNoStore(t, rec)
	var body oauthError
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == "" {
		t.Fatalf("error body %q is not an OAuth error: %v", rec.Body, err)
	}
	return body.Error
}

func checkNoStore(t testing.TB, rec *httptest.ResponseRecorder) {
	t.Helper()
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store", got)
	}
	if got := rec.Header().Get("Pragma"); got != "no-cache" {
		t.Fatalf("Pragma %q, want no-cache", got)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Fatalf("Content-Type %q", got)
	}
}

// parts decodes the header and payload of a compact JWS without verifying.
func parts(t testing.TB, raw string) (hdr, claims map[string]any) {
	t.Helper()
	segs := strings.Split(raw, ".")
	if len(segs) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(segs))
	}
	for i, dst := range []*map[string]any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(segs[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return hdr, claims
}

// signWithIssuerKey signs claims with the issuer's current key and any
// header fields, to build tokens the issuer must refuse despite a valid
// signature.
func (e *env) signWithIssuerKey(t testing.TB, claims map[string]any, hdr map[string]any) string {
	t.Helper()
	k := &testkit.Key{Alg: e.iss.keys.Algorithm(), KID: e.iss.keys.SigningKeyID(), Private: e.iss.keys.signer}
	return testkit.Sign(t, k, claims, hdr)
}

// errFake is a store or revoker failure.
var errFake = errors.New("fake failure")

// failingStore wraps a store and fails the chosen methods.
type failingStore struct {
	session.Store
	createErr, getErr, rotateErr, revokeErr error
}

func (s *failingStore) Create(ctx context.Context, x session.Session) error {
	if s.createErr != nil {
		return s.createErr
	}
	return s.Store.Create(ctx, x)
}

func (s *failingStore) Get(ctx context.Context, sid string) (session.Session, error) {
	if s.getErr != nil {
		return session.Session{}, s.getErr
	}
	return s.Store.Get(ctx, sid)
}

func (s *failingStore) Rotate(ctx context.Context, sid, jti string, next session.Rotation, now time.Time) (session.Outcome, error) {
	if s.rotateErr != nil {
		return session.Outcome{}, s.rotateErr
	}
	return s.Store.Rotate(ctx, sid, jti, next, now)
}

func (s *failingStore) Revoke(ctx context.Context, sid string) error {
	if s.revokeErr != nil {
		return s.revokeErr
	}
	return s.Store.Revoke(ctx, sid)
}

func errUnavailable() error {
	return fmt.Errorf("dial: %w", session.ErrUnavailable)
}
