package adminapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/revocation/adminapi"
	"github.com/jwt-authz/jwt-authz/revocation/memory"
)

var now = time.Unix(1_767_225_600, 0)

func clock() time.Time { return now }

// fakeInspector knows a few tokens by their raw text.
type fakeInspector map[string]struct {
	jti string
	exp int64
}

func (f fakeInspector) Inspect(_ context.Context, raw string) (string, int64, error) {
	t, ok := f[raw]
	if !ok {
		return "", 0, errors.New("bad_signature")
	}
	return t.jti, t.exp, nil
}

var inspector = fakeInspector{
	"leaked.expired.token": {jti: "leaked-jti", exp: now.Unix() - 3600},
	"live.valid.token":     {jti: "live-jti", exp: now.Unix() + 300},
	"no.jti.token":         {jti: "", exp: now.Unix() + 300},
	"no.exp.token":         {jti: "forever-jti", exp: 0},
}

type server struct {
	h    http.Handler
	svc  *revocation.Service
	logs *testkit.LogBuffer
}

func newServer(t *testing.T, store revocation.Store, insp adminapi.TokenInspector) server {
	t.Helper()
	logs := &testkit.LogBuffer{}
	logger := logs.Logger(slog.LevelInfo)
	svc, err := revocation.NewService(store, revocation.Options{Clock: clock, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	h := adminapi.New(svc, insp, logger,
		adminapi.WithClock(clock), adminapi.WithJTISkew(30*time.Second), adminapi.WithSessionTTL(time.Hour),
		adminapi.WithKnownProviders(func(name string) bool { return name == "corp" || name == "self" }))
	return server{h: h, svc: svc, logs: logs}
}

func (s server) do(t *testing.T, method, path, body string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, path, strings.NewReader(body))
	req.RemoteAddr = "198.51.100.9:4242"
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec
}

type entryJSON struct {
	Kind      string `json:"kind"`
	Provider  string `json:"provider"`
	Value     string `json:"value"`
	Before    int64  `json:"before"`
	ExpiresAt int64  `json:"expires_at"`
	CreatedAt int64  `json:"created_at"`
}

// downStore fails every call, like an unreachable Redis.
type downStore struct{ revocation.Store }

var errDown = errors.New("connection refused")

func (downStore) Put(context.Context, revocation.Entry) error { return errDown }
func (downStore) Get(context.Context, revocation.Kind, string, string) (revocation.Entry, bool, error) {
	return revocation.Entry{}, false, errDown
}

func TestStoreUnavailable(t *testing.T) {
	s := newServer(t, downStore{memory.New(nil)}, nil)
	tests := map[string]struct{ method, path, body string }{
		"create": {http.MethodPost, "/admin/revocations", `{"sid":"s"}`},
		"get":    {http.MethodGet, "/admin/revocations/j", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := s.do(t, tc.method, tc.path, tc.body, nil)
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
				t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
			}
			if strings.Contains(rec.Body.String(), "connection refused") {
				t.Fatalf("internal error leaked: %s", rec.Body)
			}
		})
	}
}

func TestMethodsAndPaths(t *testing.T) {
	s := newServer(t, memory.New(nil), nil)
	tests := map[string]struct {
		method, path string
		status       int
	}{
		"GET on the collection": {http.MethodGet, "/admin/revocations", http.StatusMethodNotAllowed},
		"DELETE an entry":       {http.MethodDelete, "/admin/revocations/j", http.StatusMethodNotAllowed},
		"unrelated admin path":  {http.MethodGet, "/admin/tokens", http.StatusNotFound},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if rec := s.do(t, tc.method, tc.path, "", nil); rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
		})
	}
}

func TestNilService(t *testing.T) {
	h := adminapi.New(nil, nil, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/admin/revocations", strings.NewReader(`{"sid":"s"}`)))
	if rec.Code != http.StatusServiceUnavailable || !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("status %d body %s; want a JSON 503", rec.Code, rec.Body)
	}
}
