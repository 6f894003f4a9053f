package jwks

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRefreshSchedule(t *testing.T) {
	const (
		minInterval = 30 * time.Second
		maxInterval = 5 * time.Minute
	)
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{name: "no header", want: maxInterval},
		{name: "max-age within bounds", header: map[string]string{"Cache-Control": "public, max-age=120"}, want: 2 * time.Minute},
		{name: "max-age below the floor", header: map[string]string{"Cache-Control": "max-age=1"}, want: minInterval},
		{name: "max-age above the ceiling", header: map[string]string{"Cache-Control": "max-age=86400"}, want: maxInterval},
		{name: "max-age less Age", header: map[string]string{"Cache-Control": "max-age=100", "Age": "40"}, want: time.Minute},
		{name: "no-store", header: map[string]string{"Cache-Control": "no-store"}, want: minInterval},
		{name: "garbage", header: map[string]string{"Cache-Control": "max-age=tomorrow"}, want: maxInterval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a")))
			for k, v := range tt.header {
				srv.setHeader(k, v)
			}
			env := newTestSource(t, Options{JWKSURI: srv.URL, MinRefreshInterval: minInterval, RefreshInterval: maxInterval})
			if err := env.src.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			st := env.src.Status()
			if got := st.NextRefresh.Sub(st.LastFetch); got != tt.want {
				t.Fatalf("next refresh in %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRetryBackoff(t *testing.T) {
	srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a")))
	env := newTestSource(t, Options{JWKSURI: srv.URL, MinRefreshInterval: time.Second, RefreshInterval: 10 * time.Second})
	refreshIn := func() time.Duration {
		t.Helper()
		st := env.src.Status()
		return st.NextRefresh.Sub(st.LastFetch)
	}
	if err := env.src.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.fail(http.StatusBadGateway)
	for i, want := range []time.Duration{1, 2, 4, 8, 10, 10} {
		if err := env.src.Refresh(t.Context()); err == nil {
			t.Fatal("Refresh succeeded against a 502")
		}
		if got := refreshIn(); got != want*time.Second {
			t.Fatalf("failure %d: retry in %v, want %v", i+1, got, want*time.Second)
		}
	}
	srv.set(setJSON(t, ecJWK(t, "a", "a")))
	if err := env.src.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := refreshIn(); got != 10*time.Second {
		t.Fatalf("after recovery: refresh in %v, want the full interval", got)
	}
	if st := env.src.Status(); st.LastError != "" {
		t.Fatalf("LastError = %q after a success", st.LastError)
	}
}

func TestJitterNeverUndercutsTheFloor(t *testing.T) {
	srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a")))
	env := newTestSource(t, Options{JWKSURI: srv.URL, MinRefreshInterval: time.Minute, RefreshInterval: time.Hour})
	env.src.jitter = func(time.Duration) time.Duration { return 0 }
	if err := env.src.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := env.src.Status()
	if got := st.NextRefresh.Sub(st.LastFetch); got != time.Minute {
		t.Fatalf("next refresh in %v, want the 1m floor", got)
	}
}

func TestConditionalRequests(t *testing.T) {
	tests := map[string]struct {
		etag     string
		modified string
		wantHdr  string // request header that must carry the validator
	}{
		"etag":          {etag: `"v1"`, wantHdr: "If-None-Match"},
		"last-modified": {modified: "Wed, 21 Oct 2015 07:28:00 GMT", wantHdr: "If-Modified-Since"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var (
				mu       sync.Mutex
				requests int
				seen     http.Header
			)
			lastSeen := func() http.Header {
				mu.Lock()
				defer mu.Unlock()
				return seen
			}
			doc := setJSON(t, ecJWK(t, "a", "a"))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				requests++
				seen = r.Header.Clone()
				mu.Unlock()
				if tt.etag != "" {
					w.Header().Set("ETag", tt.etag)
					if r.Header.Get("If-None-Match") == tt.etag {
						w.WriteHeader(http.StatusNotModified)
						return
					}
				}
				if tt.modified != "" {
					w.Header().Set("Last-Modified", tt.modified)
					if r.Header.Get("If-Modified-Since") == tt.modified {
						w.WriteHeader(http.StatusNotModified)
						return
					}
				}
				_, _ = w.Write(doc)
			}))
			t.Cleanup(srv.Close)
			env := newTestSource(t, Options{JWKSURI: srv.URL, MaxStale: time.Hour, RefreshInterval: time.Hour})

			if err := env.src.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			if lastSeen().Get(tt.wantHdr) != "" {
				t.Fatalf("first request sent %s", tt.wantHdr)
			}
			a := mustKey(t, env.src, "a")

			// 50 minutes later a 304 renews freshness: 20 more minutes are
			// past the first load's max stale, but not the renewal's.
			env.clock.Advance(50 * time.Minute)
			if err := env.src.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := lastSeen().Get(tt.wantHdr); got != tt.etag+tt.modified {
				t.Fatalf("%s = %q", tt.wantHdr, got)
			}
			env.clock.Advance(20 * time.Minute)
			if got := mustKey(t, env.src, "a"); got != a {
				t.Fatal("keys changed on 304")
			}
			if !env.src.Ready() {
				t.Fatal("not ready after a 304 renewed freshness")
			}
			m := env.metrics.fetches
			if s, nm := testutil.ToFloat64(m.WithLabelValues("test", resultSuccess)), testutil.ToFloat64(m.WithLabelValues("test", resultNotModified)); s != 1 || nm != 1 {
				t.Fatalf("success=%v not_modified=%v, want 1 and 1", s, nm)
			}
			mu.Lock()
			defer mu.Unlock()
			if requests != 2 {
				t.Fatalf("%d requests", requests)
			}
		})
	}
}

func TestRequestHeaders(t *testing.T) {
	srv := newJWKSServer(t, setJSON(t, ecJWK(t, "a", "a")))
	env := newTestSource(t, Options{JWKSURI: srv.URL})
	if err := env.src.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	h := srv.lastRequest()
	if !strings.Contains(h.Get("Accept"), "application/jwk-set+json") || h.Get("User-Agent") != userAgent {
		t.Fatalf("request headers %v", h)
	}
}

func TestContentTypeIsNotEnforced(t *testing.T) {
	for _, ct := range []string{"application/json", "application/jwk-set+json", "text/plain", ""} {
		t.Run(ct, func(t *testing.T) {
			doc := setJSON(t, ecJWK(t, "a", "a"))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header()["Content-Type"] = []string{ct}
				_, _ = w.Write(doc)
			}))
			t.Cleanup(srv.Close)
			env := newTestSource(t, Options{JWKSURI: srv.URL})
			if err := env.src.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDocumentSizeLimit(t *testing.T) {
	doc := setJSON(t, ecJWK(t, "a", "a"))
	// Trailing whitespace keeps the document valid JSON at any size.
	padded := func(size int) []byte { return append(bytes.Clone(doc), bytes.Repeat([]byte(" "), size-len(doc))...) }
	tests := []struct {
		name          string
		body          []byte
		contentLength bool
		wantErr       bool
	}{
		{name: "exactly 1 MiB", body: padded(maxDocumentBytes)},
		{name: "1 MiB and a byte, chunked", body: padded(maxDocumentBytes + 1), wantErr: true},
		{name: "1 MiB and a byte, with Content-Length", body: padded(maxDocumentBytes + 1), contentLength: true, wantErr: true},
		{name: "much larger, with Content-Length", body: padded(8 * maxDocumentBytes), contentLength: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tt.contentLength {
					w.Header().Set("Content-Length", strconv.Itoa(len(tt.body)))
				} else {
					w.Header().Set("Transfer-Encoding", "chunked")
				}
				_, _ = w.Write(tt.body)
			}))
			t.Cleanup(srv.Close)
			env := newTestSource(t, Options{JWKSURI: srv.URL})
			err := env.src.Refresh(t.Context())
			if tt.wantErr != (err != nil) {
				t.Fatalf("Refresh err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "exceeds") {
				t.Fatalf("error %q does not name the limit", err)
			}
		})
	}
}

func TestHTTPSchemeRule(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		wantError bool
	}{
		{name: "https", opts: Options{JWKSURI: "https://idp.example.com/jwks"}},
		{name: "http loopback", opts: Options{JWKSURI: "http://127.0.0.1:1/jwks"}},
		{name: "http localhost", opts: Options{JWKSURI: "http://localhost:1/jwks"}},
		{name: "http remote", opts: Options{JWKSURI: "http://idp.example.com/jwks"}, wantError: true},
		{name: "http remote allowed", opts: Options{JWKSURI: "http://idp.example.com/jwks", AllowHTTP: true}},
		{name: "http remote issuer for discovery", opts: Options{Discovery: true, Issuer: "http://idp.example.com"}, wantError: true},
		{name: "http remote issuer allowed", opts: Options{Discovery: true, Issuer: "http://idp.example.com", AllowHTTP: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Provider = "p"
			s, err := New(tt.opts)
			if tt.wantError != (err != nil) {
				t.Fatalf("New err = %v, want error %v", err, tt.wantError)
			}
			if s != nil {
				s.Stop()
			}
		})
	}
}

func TestRedirects(t *testing.T) {
	doc := setJSON(t, ecJWK(t, "a", "a"))
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /hop/N redirects N more times, then serves the set.
		if n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/")); err == nil && n > 0 {
			http.Redirect(w, r, "/hop/"+strconv.Itoa(n-1), http.StatusFound)
			return
		}
		_, _ = w.Write(doc)
	}))
	t.Cleanup(plain.Close)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-plain":
			http.Redirect(w, r, plain.URL+"/hop/0", http.StatusFound)
		case "/to-tls":
			http.Redirect(w, r, "/jwks", http.StatusMovedPermanently)
		default:
			_, _ = w.Write(doc)
		}
	}))
	t.Cleanup(tlsSrv.Close)

	tests := []struct {
		name      string
		url       string
		allowHTTP bool
		wantErr   bool
	}{
		{name: "three redirects", url: plain.URL + "/hop/3"},
		{name: "four redirects", url: plain.URL + "/hop/4", wantErr: true},
		{name: "https to https", url: tlsSrv.URL + "/to-tls"},
		{name: "https down to http", url: tlsSrv.URL + "/to-plain", wantErr: true},
		{name: "https down to http allowed", url: tlsSrv.URL + "/to-plain", allowHTTP: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestSource(t, Options{JWKSURI: tt.url, AllowHTTP: tt.allowHTTP, HTTPClient: tlsSrv.Client()})
			err := env.src.Refresh(t.Context())
			if tt.wantErr != (err != nil) {
				t.Fatalf("Refresh err = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestRedirectPolicyRefusesRemoteHTTP(t *testing.T) {
	policy := redirectPolicy(false)
	via := []*http.Request{httptest.NewRequest(http.MethodGet, "http://127.0.0.1/jwks", nil)}
	tests := map[string]bool{
		"http://127.0.0.1/elsewhere":   true,
		"https://idp.example.com/jwks": true,
		"http://idp.example.com/jwks":  false,
		"ftp://idp.example.com/jwks":   false,
	}
	for target, ok := range tests {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		if err := policy(req, via); ok != (err == nil) {
			t.Errorf("redirect to %s: err = %v, want ok=%v", target, err, ok)
		}
	}
}

func TestInjectedClientIsNotModified(t *testing.T) {
	client := &http.Client{}
	env := newTestSource(t, Options{JWKSURI: "https://idp.example.com/jwks", HTTPClient: client})
	if client.CheckRedirect != nil || client.Timeout != 0 {
		t.Fatal("the injected client was changed")
	}
	if env.src.client.CheckRedirect == nil || env.src.client.Timeout != fetchTimeout {
		t.Fatal("the source's copy lacks the redirect policy or timeout")
	}
}

func TestFetchErrorIsReported(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/jwks"
	srv.Close() // connection refused from now on
	env := newTestSource(t, Options{JWKSURI: url})
	err := env.src.Refresh(t.Context())
	if err == nil || !strings.Contains(err.Error(), "fetch jwks") {
		t.Fatalf("err = %v", err)
	}
	if errors.Is(err, ErrUnavailable) {
		t.Fatal("a fetch error is not a lookup outcome")
	}
}
