package ratelimit

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestWrapRefusesWith429BeforeTheHandler(t *testing.T) {
	clock := newClock()
	reg := prometheus.NewPedanticRegistry()
	h := HTTP{Limiter: New(Options{RequestsPerSecond: 0.5, Burst: 2, MaxClients: 10, Now: clock.now}), Metrics: NewMetrics(reg)}
	reached := 0
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { reached++; w.WriteHeader(http.StatusOK) })
	wrapped := h.Wrap("token", next)
	send := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/oauth2/token", nil)
		req.RemoteAddr = "192.0.2.9:5555"
		rec := httptest.NewRecorder()
		wrapped.ServeHTTP(rec, req)
		return rec
	}
	for range 2 {
		if rec := send(); rec.Code != http.StatusOK {
			t.Fatalf("within the burst: %d", rec.Code)
		}
	}
	rec := send()
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("over the burst: %d", rec.Code)
	}
	if reached != 2 {
		t.Fatalf("handler reached %d times, want 2", reached)
	}
	if got := rec.Header().Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After %q, want 2", got)
	}
	if ct, cc := rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
		t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != "slow_down" || body.Description == "" {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	if n := testutil.ToFloat64(h.Metrics.limited.WithLabelValues("token")); n != 1 {
		t.Fatalf("jwt_authz_rate_limited_total{endpoint=token} = %v, want 1", n)
	}
}

func TestWrapWithoutLimiterIsTheHandler(t *testing.T) {
	next := http.NotFoundHandler()
	if got := (HTTP{}).Wrap("token", next); got == nil {
		t.Fatal("nil handler")
	}
}

func TestClientAddress(t *testing.T) {
	tests := map[string]struct {
		header, remote string
		values         []string
		want           string
	}{
		"peer":                      {remote: "192.0.2.1:40000", want: "192.0.2.1"},
		"peer IPv6":                 {remote: "[2001:db8::1]:40000", want: "2001:db8::1"},
		"header ignored by default": {remote: "192.0.2.1:1", values: []string{"203.0.113.5"}, want: "192.0.2.1"},
		"last address of the list":  {header: "x-forwarded-for", remote: "10.0.0.1:1", values: []string{"198.51.100.1, 203.0.113.5"}, want: "203.0.113.5"},
		"last of several headers":   {header: "x-forwarded-for", remote: "10.0.0.1:1", values: []string{"198.51.100.1", "203.0.113.6"}, want: "203.0.113.6"},
		"address with port":         {header: "x-real-ip", remote: "10.0.0.1:1", values: []string{"203.0.113.7:8443"}, want: "203.0.113.7"},
		"garbage falls back":        {header: "x-forwarded-for", remote: "10.0.0.1:1", values: []string{"unknown"}, want: "10.0.0.1"},
		"missing header falls back": {header: "x-forwarded-for", remote: "10.0.0.2:1", want: "10.0.0.2"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/", nil)
			req.RemoteAddr = tc.remote
			for _, v := range tc.values {
				req.Header.Add("X-Forwarded-For", v)
				req.Header.Add("X-Real-Ip", v)
			}
			if got := (HTTP{ClientIPHeader: tc.header}).client(req); got != netip.MustParseAddr(tc.want) {
				t.Fatalf("client %v, want %s", got, tc.want)
			}
		})
	}
}

func BenchmarkWrapAllowed(b *testing.B) {
	h := HTTP{Limiter: New(Options{RequestsPerSecond: 1e9, Burst: 1 << 30, MaxClients: 10000}), Metrics: NewMetrics(prometheus.NewRegistry())}
	wrapped := h.Wrap("token", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodPost, "/oauth2/token", nil)
	req.RemoteAddr = "192.0.2.1:40000"
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		wrapped.ServeHTTP(w, req)
	}
}

// FuzzClientAddress: any header value and peer address give the header's
// last address when it is one, else the peer's, else the zero address;
// never a panic.
func FuzzClientAddress(f *testing.F) {
	f.Add("198.51.100.1, 203.0.113.5", "10.0.0.1:1")
	f.Add("[2001:db8::1]:443", "[::1]:2")
	f.Add(",,,", "not an address")
	f.Fuzz(func(t *testing.T, header, remote string) {
		req := httptest.NewRequest(http.MethodPost, "/", nil)
		req.RemoteAddr = remote
		req.Header["X-Forwarded-For"] = []string{header}
		got := (HTTP{ClientIPHeader: "x-forwarded-for"}).client(req)
		want, ok := lastAddr([]string{header})
		if !ok {
			if ap, err := netip.ParseAddrPort(remote); err == nil {
				want = ap.Addr()
			} else {
				want, _ = netip.ParseAddr(remote)
			}
		}
		if got != want {
			t.Fatalf("client %v, want %v (header %q, peer %q)", got, want, header, remote)
		}
	})
}

func TestWrapOverallLimit(t *testing.T) {
	clock := newClock()
	reg := prometheus.NewPedanticRegistry()
	h := HTTP{
		Limiter: New(Options{RequestsPerSecond: 10, Burst: 10, MaxClients: 10, TotalPerSecond: 1, TotalBurst: 2, Now: clock.now}),
		Metrics: NewMetrics(reg),
	}
	wrapped := h.Wrap("backchannel_logout", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	send := func(addr string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/oidc/backchannel-logout", nil)
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		wrapped.ServeHTTP(rec, req)
		return rec
	}
	for i, addr := range []string{"192.0.2.1:1", "192.0.2.2:1"} {
		if rec := send(addr); rec.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i, rec.Code)
		}
	}
	rec := send("192.0.2.3:1")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("third client: %d, Retry-After %q; want 429 after 1 s", rec.Code, rec.Header().Get("Retry-After"))
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != "slow_down" || body.Description != "too many requests to this endpoint; retry after 1 s" {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	if n := testutil.ToFloat64(h.Metrics.limited.WithLabelValues("backchannel_logout")); n != 1 {
		t.Fatalf("jwt_authz_rate_limited_total{endpoint=backchannel_logout} = %v, want 1", n)
	}
}
