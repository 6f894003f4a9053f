package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAdminGuard holds the guard to its invariant: whatever the headers,
// a request that reaches an admin endpoint without a token configured
// came to a loopback Host, from no foreign origin, and, when it changes
// state, declared a JSON body.
func FuzzAdminGuard(f *testing.F) {
	f.Add("POST", "127.0.0.1:9090", "", "", "application/json")
	f.Add("POST", "rebind.evil.example", "http://evil.example", "", "")
	f.Add("POST", "localhost:9090", "http://localhost:9090", "same-origin", "application/json; charset=utf-8")
	f.Add("GET", "[::1]:9090", "null", "cross-site", "")
	f.Add("DELETE", "127.0.0.1.nip.io", "", "none", "application/json")
	f.Add("POST", "[::ffff:127.0.0.1]:1", "HTTP://[::FFFF:127.0.0.1]:1", "", "Application/JSON")
	f.Fuzz(func(t *testing.T, method, host, origin, fetchSite, contentType string) {
		if method == "" || strings.ContainsAny(method, " \t\r\n()<>@,;:\\\"/[]?={}") {
			return
		}
		a := &app{}
		reached := false
		h := a.adminGuard(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
		req := httptest.NewRequest(http.MethodGet, "/admin/tokens", nil)
		req.Method, req.Host = method, host
		for k, v := range map[string]string{"Origin": origin, "Sec-Fetch-Site": fetchSite, "Content-Type": contentType} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !reached {
			if rec.Code != http.StatusForbidden && rec.Code != http.StatusUnsupportedMediaType {
				t.Fatalf("refused with %d", rec.Code)
			}
			return
		}
		if !isLoopbackHostHeader(host) {
			t.Fatalf("Host %q reached the endpoint", host)
		}
		if origin != "" && !strings.EqualFold(origin, "http://"+host) {
			t.Fatalf("Origin %q reached the endpoint at Host %q", origin, host)
		}
		if fs := strings.ToLower(fetchSite); fs != "" && fs != "same-origin" && fs != "none" {
			t.Fatalf("Sec-Fetch-Site %q reached the endpoint", fetchSite)
		}
		if changesState(method) && !isJSON(contentType) {
			t.Fatalf("%s with Content-Type %q reached the endpoint", method, contentType)
		}
	})
}

func TestLoopbackHostHeader(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST:9090": true, "127.0.0.1": true, "127.0.0.1:9090": true, "127.8.9.10:1": true,
		"[::1]": true, "[::1]:9090": true, "[::ffff:127.0.0.1]:9090": true,
		"": false, "localhost.": false, "evil.localhost": false, "localhost.evil.example": false,
		"127.0.0.1.nip.io": false, "10.0.0.1:9090": false, "[::]:9090": false, "0.0.0.0:9090": false,
		"[fe80::1%25eth0]:9090": false, "::1": true, "rebind.evil.example": false,
	} {
		if got := isLoopbackHostHeader(host); got != want {
			t.Errorf("isLoopbackHostHeader(%q) = %v, want %v", host, got, want)
		}
	}
}
