package jwks

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// Keys are generated once per test binary: RSA generation is slow under the
// race detector.
var (
	testRSAKey = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	// A second 2048-bit key, for rotations between RSA keys.
	testRSAKey2   = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	testSmallRSA  = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(1024) })
	testECKeys    sync.Map // name -> *ecdsa.PrivateKey
	testEdKeySeed = bytes.Repeat([]byte{7}, ed25519.SeedSize)
)

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err) // test setup only
	}
	return k
}

// ecKey returns a P-256 key that is the same for the same name.
func ecKey(t testing.TB, name string) *ecdsa.PrivateKey {
	t.Helper()
	if k, ok := testECKeys.Load(name); ok {
		return k.(*ecdsa.PrivateKey)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	actual, _ := testECKeys.LoadOrStore(name, k)
	return actual.(*ecdsa.PrivateKey)
}

func edKey() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(testEdKeySeed) }

// jwkMap encodes key (public or private) as a JWK object with the given kid
// ("" for none) and alg ("" for none), plus extra members.
func jwkMap(t testing.TB, key any, kid, alg string, extra map[string]any) map[string]any {
	t.Helper()
	k, err := jwk.FromRaw(key)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if kid != "" {
		m["kid"] = kid
	}
	if alg != "" {
		m["alg"] = alg
	}
	for name, v := range extra {
		m[name] = v
	}
	return m
}

// ecJWK is a P-256 ES256 JWK for the key named name.
func ecJWK(t testing.TB, name, kid string) map[string]any {
	t.Helper()
	return jwkMap(t, &ecKey(t, name).PublicKey, kid, "ES256", nil)
}

// setJSON builds a JWKS document.
func setJSON(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	if keys == nil {
		keys = []map[string]any{}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jwksServer serves a JWKS on loopback and counts requests.
type jwksServer struct {
	*httptest.Server
	requests atomic.Int64

	mu      sync.Mutex
	body    []byte
	status  int
	header  http.Header
	etag    string        // answered with 304 when If-None-Match matches
	gate    chan struct{} // when set, requests wait until it is closed
	lastReq http.Header
}

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{body: body, status: http.StatusOK, header: http.Header{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	gate, body, status, etag := s.gate, s.body, s.status, s.etag
	for k, v := range s.header {
		w.Header()[k] = v
	}
	s.lastReq = r.Header.Clone()
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if etag != "" {
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *jwksServer) set(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.status = body, http.StatusOK
}

func (s *jwksServer) fail(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
	s.body = []byte("failure")
}

func (s *jwksServer) setHeader(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.header.Set(name, value)
}

func (s *jwksServer) setETag(etag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.etag = etag
}

// hold makes requests wait until the returned function is called.
func (s *jwksServer) hold() (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.gate = gate
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.gate = nil
			s.mu.Unlock()
			close(gate)
		})
	}
}

func (s *jwksServer) lastRequest() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastReq
}

// clockStart is where the tests' fake clocks start.
var clockStart = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// testEnv is a Source under test with its clock, logs and metrics.
type testEnv struct {
	src     *Source
	clock   *testkit.Clock
	logs    *testkit.LogBuffer
	metrics *Metrics
}

// newTestSource builds a Source with a fake clock, captured logs, fresh
// metrics and no jitter; opts may set anything else. The source is stopped
// when the test ends.
func newTestSource(t testing.TB, opts Options) *testEnv {
	t.Helper()
	env := &testEnv{clock: testkit.NewClock(clockStart), logs: &testkit.LogBuffer{}, metrics: NewMetrics(prometheus.NewRegistry())}
	if opts.Provider == "" {
		opts.Provider = "test"
	}
	if opts.Clock == nil {
		opts.Clock = env.clock.Now
	}
	opts.Logger = env.logs.Logger(slog.LevelDebug)
	opts.Metrics = env.metrics
	src, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	src.jitter = func(d time.Duration) time.Duration { return d }
	t.Cleanup(src.Stop)
	env.src = src
	return env
}

// mustKey fetches kid or fails the test.
func mustKey(t testing.TB, src interface {
	Key(context.Context, string) (*Key, error)
}, kid string) *Key {
	t.Helper()
	k, err := src.Key(context.Background(), kid)
	if err != nil {
		t.Fatalf("Key(%q): %v", kid, err)
	}
	return k
}

// eventually polls cond every millisecond until it holds, failing the test
// after a generous deadline. It asserts an outcome, not a duration.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, time.Millisecond, what, cond)
}

// errIs reports whether err matches want (nil matches nil only).
func errIs(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}
