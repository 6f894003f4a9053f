package jwks

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// idpServer serves a discovery document and a JWKS on one loopback server.
type idpServer struct {
	*httptest.Server
	discovery atomic.Pointer[map[string]any]
	jwks      atomic.Pointer[[]byte]
	fetches   atomic.Int64 // JWKS requests
	lookups   atomic.Int64 // discovery requests
}

func newIDPServer(t *testing.T, jwks []byte) *idpServer {
	t.Helper()
	s := &idpServer{}
	s.jwks.Store(&jwks)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			s.lookups.Add(1)
			doc := s.discovery.Load()
			if doc == nil {
				http.NotFound(w, r)
				return
			}
			_ = json.NewEncoder(w).Encode(*doc)
		case "/keys":
			s.fetches.Add(1)
			_, _ = w.Write(*s.jwks.Load())
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *idpServer) publish(doc map[string]any) { s.discovery.Store(&doc) }

func TestDiscovery(t *testing.T) {
	tests := []struct {
		name    string
		issuer  func(srv *idpServer) string         // configured issuer
		doc     func(srv *idpServer) map[string]any // nil: 404
		wantErr string
	}{
		{
			name:   "good",
			issuer: func(s *idpServer) string { return s.URL },
			doc:    func(s *idpServer) map[string]any { return map[string]any{"issuer": s.URL, "jwks_uri": s.URL + "/keys"} },
		},
		{
			name:   "issuer with trailing slash",
			issuer: func(s *idpServer) string { return s.URL + "/" },
			doc: func(s *idpServer) map[string]any {
				return map[string]any{"issuer": s.URL + "/", "jwks_uri": s.URL + "/keys"}
			},
		},
		{
			name:   "issuer mismatch",
			issuer: func(s *idpServer) string { return s.URL },
			doc: func(s *idpServer) map[string]any {
				return map[string]any{"issuer": "https://evil.example", "jwks_uri": s.URL + "/keys"}
			},
			wantErr: "does not match the configured issuer",
		},
		{
			name:   "issuer differs by a trailing slash",
			issuer: func(s *idpServer) string { return s.URL },
			doc: func(s *idpServer) map[string]any {
				return map[string]any{"issuer": s.URL + "/", "jwks_uri": s.URL + "/keys"}
			},
			wantErr: "does not match the configured issuer",
		},
		{
			name:   "jwks_uri over http to a remote host",
			issuer: func(s *idpServer) string { return s.URL },
			doc: func(s *idpServer) map[string]any {
				return map[string]any{"issuer": s.URL, "jwks_uri": "http://idp.example.com/keys"}
			},
			wantErr: "not loopback",
		},
		{
			name:    "relative jwks_uri",
			issuer:  func(s *idpServer) string { return s.URL },
			doc:     func(s *idpServer) map[string]any { return map[string]any{"issuer": s.URL, "jwks_uri": "/keys"} },
			wantErr: "no host",
		},
		{
			name:    "no jwks_uri",
			issuer:  func(s *idpServer) string { return s.URL },
			doc:     func(s *idpServer) map[string]any { return map[string]any{"issuer": s.URL} },
			wantErr: "no jwks_uri",
		},
		{
			name:    "issuer of the wrong type",
			issuer:  func(s *idpServer) string { return s.URL },
			doc:     func(s *idpServer) map[string]any { return map[string]any{"issuer": 42, "jwks_uri": s.URL + "/keys"} },
			wantErr: "parse document",
		},
		{
			name:    "no discovery document",
			issuer:  func(s *idpServer) string { return s.URL },
			wantErr: "unexpected status 404",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newIDPServer(t, setJSON(t, ecJWK(t, "a", "a")))
			if tt.doc != nil {
				srv.publish(tt.doc(srv))
			}
			env := newTestSource(t, Options{Discovery: true, Issuer: tt.issuer(srv)})
			err := env.src.Refresh(t.Context())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				mustKey(t, env.src, "a")
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
			if srv.fetches.Load() != 0 {
				t.Fatal("the JWKS was fetched despite a bad discovery document")
			}
		})
	}
}

func TestDiscoveryIsCachedUntilAFailure(t *testing.T) {
	srv := newIDPServer(t, setJSON(t, ecJWK(t, "a", "a")))
	srv.publish(map[string]any{"issuer": srv.URL, "jwks_uri": srv.URL + "/keys"})
	env := newTestSource(t, Options{Discovery: true, Issuer: srv.URL})
	ctx := t.Context()

	// Forced refreshes rediscover; a refetch for an unknown kid does not.
	if err := env.src.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(DefaultMinRefreshInterval)
	if _, err := env.src.Key(ctx, "unknown"); err == nil {
		t.Fatal("found an unknown kid")
	}
	if l, f := srv.lookups.Load(), srv.fetches.Load(); l != 1 || f != 2 {
		t.Fatalf("%d discovery lookups and %d fetches, want 1 and 2", l, f)
	}

	// The JWKS URL moves and the old one fails: the next fetch fails, the
	// one after it rediscovers.
	srv.publish(map[string]any{"issuer": srv.URL, "jwks_uri": srv.URL + "/keys?moved"})
	broken := []byte("{")
	srv.jwks.Store(&broken)
	env.clock.Advance(DefaultMinRefreshInterval)
	if _, err := env.src.Key(ctx, "unknown"); err == nil {
		t.Fatal("found an unknown kid")
	}
	good := setJSON(t, ecJWK(t, "a", "a"), ecJWK(t, "b", "b"))
	srv.jwks.Store(&good)
	env.clock.Advance(DefaultMinRefreshInterval)
	mustKey(t, env.src, "b")
	if l := srv.lookups.Load(); l != 2 {
		t.Fatalf("%d discovery lookups, want 2", l)
	}
}
