package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHTTPListenerLimits: a declared body over the limit is refused on
// every endpoint of both listeners before any handler runs, oversized
// headers are refused, and a client that never finishes its headers is
// disconnected.
func TestHTTPListenerLimits(t *testing.T) {
	in := start(t, `
issuer:
  enabled: true
revocation:
  store: memory
http:
  max_body_bytes: 1024
  max_header_bytes: 4096
  read_header_timeout: 200ms
`, "")
	big := strings.Repeat("x", 1025)
	for _, u := range []string{
		"http://" + in.httpAddr + "/oauth2/token",
		"http://" + in.httpAddr + "/authz/anything",
		"http://" + in.httpAddr + "/readyz",
		"http://" + in.httpAddr + "/no/such/endpoint",
	} {
		status, body := do(t, "POST", u, "application/x-www-form-urlencoded", strings.NewReader(big), nil)
		if status != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), `"error":"invalid_request"`) {
			t.Errorf("%s: %d %s", u, status, body)
		}
	}
	adminBig := strings.Repeat("x", adminMaxBodyBytes+1)
	for _, path := range []string{"/admin/revocations", "/admin/tokens", "/admin/jwks/refresh"} {
		status, body := do(t, "POST", "http://"+in.adminAddr+path, "application/json", strings.NewReader(adminBig), nil)
		if status != http.StatusRequestEntityTooLarge {
			t.Errorf("admin %s: %d %s", path, status, body)
		}
	}
	// Within the limit the endpoint answers as usual.
	if status, body := do(t, "POST", "http://"+in.httpAddr+"/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=nonsense"), nil); status != http.StatusBadRequest {
		t.Errorf("small form: %d %s", status, body)
	}

	status, _ := do(t, "GET", "http://"+in.httpAddr+"/healthz", "", nil, map[string]string{"X-Big": strings.Repeat("h", 16<<10)})
	if status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversized headers: %d", status)
	}

	conn, err := net.Dial("tcp", in.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second)) // a bound against hanging, not a measurement
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	// The server gives up on the unfinished headers and closes.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("unfinished headers answered %d", resp.StatusCode)
		}
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept a connection with unfinished headers open")
	}
}

// TestServerLimitsFromConfig: the servers carry the configured limits.
func TestServerLimitsFromConfig(t *testing.T) {
	cfg, err := loadConfig("", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	s := newHTTPServer(http.NotFoundHandler(), cfg.HTTP)
	if s.ReadHeaderTimeout != cfg.HTTP.ReadHeaderTimeout || s.ReadTimeout != cfg.HTTP.ReadTimeout || s.WriteTimeout != cfg.HTTP.WriteTimeout ||
		s.IdleTimeout != cfg.HTTP.IdleTimeout || s.MaxHeaderBytes != cfg.HTTP.MaxHeaderBytes {
		t.Fatalf("http server %+v from %+v", s, cfg.HTTP)
	}
	a := newAdminServer(http.NotFoundHandler())
	if a.ReadHeaderTimeout == 0 || a.ReadTimeout == 0 || a.WriteTimeout == 0 || a.IdleTimeout == 0 || a.MaxHeaderBytes != adminMaxHeaderBytes {
		t.Fatalf("admin server %+v", a)
	}
}
