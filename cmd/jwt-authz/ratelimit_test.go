package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// metricValue reads one sample from the admin listener's /metrics: the
// line that starts with name{ and holds every label pair given.
func metricValue(t *testing.T, in *instance, name string, labels ...string) float64 {
	t.Helper()
	_, body := do(t, "GET", "http://"+in.adminAddr+"/metrics", "", nil, nil)
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
next:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue next
			}
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		return v
	}
	return 0
}

func TestTokenEndpointRateLimit(t *testing.T) {
	in := start(t, `
token_endpoint_rate_limit:
  requests_per_second: 1
  burst: 2
  client_ip_header: x-forwarded-for
`, "")
	eventually(t, "ready", in.grpcServing)
	_, refresh := in.mint("alice", "read")
	const formType = "application/x-www-form-urlencoded"
	post := func(path, client string, form url.Values) (int, http.Header, map[string]any) {
		req, err := http.NewRequest("POST", "http://"+in.httpAddr+path, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", formType)
		req.Header.Set("X-Forwarded-For", "192.0.2.200, "+client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, resp.Header, m
	}
	grants := func() float64 {
		return metricValue(t, in, "jwt_authz_token_requests_total", `grant_type="refresh_token"`, `result="invalid_grant"`)
	}

	// Client A spends its burst on guesses, then is refused with its real
	// refresh token: 429 before the store, so the token is not used up.
	for i := range 2 {
		if status, _, _ := post("/token/refresh", "203.0.113.1", url.Values{"refresh_token": {"guess-" + strconv.Itoa(i)}}); status != http.StatusBadRequest {
			t.Fatalf("guess %d: %d, want 400", i, status)
		}
	}
	guessed := grants()
	status, hdr, body := post("/oauth2/token", "203.0.113.1", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	if status != http.StatusTooManyRequests {
		t.Fatalf("over the burst: %d %v", status, body)
	}
	if ra, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", hdr.Get("Retry-After"))
	}
	if body["error"] != "slow_down" || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("429 body %v, Cache-Control %q", body, hdr.Get("Cache-Control"))
	}
	for _, path := range []string{"/oauth2/revoke", "/oauth2/introspect", "/oauth2/token"} {
		if status, _, _ := post(path, "203.0.113.1", url.Values{"token": {"x"}}); status != http.StatusTooManyRequests {
			t.Fatalf("%s from the limited client: %d", path, status)
		}
	}
	if got := grants(); got != guessed {
		t.Fatalf("refused requests reached the token endpoint: invalid_grant went from %v to %v", guessed, got)
	}
	if n := metricValue(t, in, "jwt_authz_rate_limited_total", `endpoint="token"`); n != 2 {
		t.Fatalf(`jwt_authz_rate_limited_total{endpoint="token"} = %v, want 2`, n)
	}
	if n := metricValue(t, in, "jwt_authz_rate_limited_total", `endpoint="introspect"`); n != 1 {
		t.Fatalf(`jwt_authz_rate_limited_total{endpoint="introspect"} = %v, want 1`, n)
	}

	// Client B has its own bucket, and the refresh token refused to A was
	// never rotated: it still works.
	status, _, body = post("/oauth2/token", "203.0.113.2", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	if status != http.StatusOK || body["access_token"] == nil {
		t.Fatalf("refresh from another client: %d %v", status, body)
	}
	// Discovery and health are not limited.
	for range 5 {
		if status, _ := do(t, "GET", "http://"+in.httpAddr+"/.well-known/openid-configuration", "", nil, map[string]string{"X-Forwarded-For": "203.0.113.1"}); status != http.StatusOK {
			t.Fatalf("discovery: %d", status)
		}
	}
}
