package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// adminRequest sends one request to the admin listener with exactly the
// given headers ("Host" sets the Host header; an absent Content-Type is
// sent as none).
func adminRequest(t *testing.T, in *instance, method, path, body string, header map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+in.adminAddr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("%s %s: %d with a body that is not JSON: %q", method, path, resp.StatusCode, buf.String())
		}
	}
	return resp.StatusCode, m
}

// adminMints reads jwt_authz_token_requests_total for POST /admin/tokens
// from the metrics endpoint.
func adminMints(t *testing.T, in *instance) float64 {
	t.Helper()
	_, body := do(t, "GET", "http://"+in.adminAddr+"/metrics", "", nil, nil)
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "jwt_authz_token_requests_total{") && strings.Contains(line, `grant_type="admin"`) && strings.Contains(line, `result="issued"`) {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return v
		}
	}
	return 0
}

func TestAdminRefusesBrowserRequestsWithoutToken(t *testing.T) {
	in := start(t, "", "")
	eventually(t, "ready", in.grpcServing)
	victim, _ := in.mint("victim", "read")
	mintsBefore := adminMints(t, in)
	const jsonType = "application/json"

	hostile := map[string]map[string]string{
		"the rebinding request: no content type, foreign Origin and Host": {"Origin": "http://evil.example", "Host": "rebind.evil.example"},
		"no content type":                  {},
		"text/plain, as a no-cors fetch":   {"Content-Type": "text/plain"},
		"form, as an HTML form":            {"Content-Type": "application/x-www-form-urlencoded"},
		"foreign Origin":                   {"Content-Type": jsonType, "Origin": "http://evil.example"},
		"opaque Origin":                    {"Content-Type": jsonType, "Origin": "null"},
		"Origin of another loopback name":  {"Content-Type": jsonType, "Origin": "http://localhost:1"},
		"rebound Host":                     {"Content-Type": jsonType, "Host": "rebind.evil.example"},
		"rebound Host with the admin port": {"Content-Type": jsonType, "Host": "rebind.evil.example:9090"},
		"subdomain of localhost":           {"Content-Type": jsonType, "Host": "evil.localhost"},
		"Sec-Fetch-Site cross-site":        {"Content-Type": jsonType, "Sec-Fetch-Site": "cross-site"},
		"Sec-Fetch-Site same-site":         {"Content-Type": jsonType, "Sec-Fetch-Site": "same-site"},
	}
	for name, header := range hostile {
		t.Run(name, func(t *testing.T) {
			for _, call := range []struct{ path, body string }{
				{"/admin/tokens", `{"sub":"attacker"}`},
				{"/admin/revocations", `{"sub":"victim"}`},
				{"/admin/jwks/refresh", ``},
			} {
				status, m := adminRequest(t, in, "POST", call.path, call.body, header)
				if status != http.StatusForbidden && status != http.StatusUnsupportedMediaType {
					t.Errorf("POST %s: status %d, want 403 or 415", call.path, status)
				}
				if m["error"] == nil {
					t.Errorf("POST %s: no JSON error body: %v", call.path, m)
				}
			}
		})
	}
	// The browser checks hold for reads too: a rebound page cannot read
	// profiles, providers or introspection either.
	for _, path := range []string{"/debug/pprof/", "/admin/providers", "/admin/debug/pprof/", "/readyz"} {
		if status, _ := adminRequest(t, in, "GET", path, "", map[string]string{"Host": "rebind.evil.example"}); status != http.StatusForbidden {
			t.Errorf("GET %s with a rebound Host: %d, want 403", path, status)
		}
		if status, _ := adminRequest(t, in, "GET", path, "", map[string]string{"Origin": "http://evil.example"}); status != http.StatusForbidden {
			t.Errorf("GET %s from a foreign Origin: %d, want 403", path, status)
		}
	}
	if status, _ := adminRequest(t, in, "POST", "/oauth2/introspect", "token="+victim, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "cross-site"}); status != http.StatusForbidden {
		t.Errorf("cross-site introspection: %d, want 403", status)
	}

	// Nothing was minted or revoked.
	if got := adminMints(t, in); got != mintsBefore {
		t.Fatalf("admin mints went from %v to %v", mintsBefore, got)
	}
	if r := reasonOf(in.check(victim, "/")); r != "ok" {
		t.Fatalf("victim's token after refused revocations: %s", r)
	}

	// The listener's own origin, loopback names and the CLI's requests work.
	port := in.adminAddr[strings.LastIndexByte(in.adminAddr, ':'):]
	for name, header := range map[string]map[string]string{
		"own origin":                 {"Content-Type": jsonType, "Origin": "http://" + in.adminAddr},
		"Sec-Fetch-Site same-origin": {"Content-Type": jsonType + "; charset=utf-8", "Sec-Fetch-Site": "same-origin", "Origin": "http://" + in.adminAddr},
		"Sec-Fetch-Site none":        {"Content-Type": jsonType, "Sec-Fetch-Site": "none"},
		"localhost":                  {"Content-Type": jsonType, "Host": "localhost" + port},
		"another 127/8 address":      {"Content-Type": jsonType, "Host": "127.0.0.2" + port},
		"IPv6 loopback":              {"Content-Type": jsonType, "Host": "[::1]" + port},
	} {
		if status, m := adminRequest(t, in, "POST", "/admin/tokens", `{"sub":"operator"}`, header); status != http.StatusOK || m["access_token"] == nil {
			t.Errorf("%s: mint answered %d %v", name, status, m)
		}
	}
	if status, _ := adminRequest(t, in, "GET", "/debug/pprof/cmdline", "", nil); status != http.StatusOK {
		t.Errorf("pprof on loopback without a token configured: %d", status)
	}
	if status, _ := adminRequest(t, in, "POST", "/admin/revocations", `{"sub":"victim"}`, map[string]string{"Content-Type": jsonType}); status != http.StatusCreated {
		t.Fatalf("revocation with JSON: %d", status)
	}
	if r := reasonOf(in.check(victim, "/")); r != "revoked" {
		t.Fatalf("victim's token after the revocation: %s", r)
	}
}

func TestAdminTokenCoversEveryEndpointButMetrics(t *testing.T) {
	const adminToken = "0123456789abcdef0123456789abcdef"
	tokenFile := writeAdminToken(t, adminToken)
	in := start(t, "admin_token_file: "+tokenFile+"\n", "")
	eventually(t, "ready", in.grpcServing)
	auth := "Bearer " + adminToken
	form := "application/x-www-form-urlencoded"

	for _, c := range []struct{ method, path, ct, body string }{
		{"POST", "/oauth2/introspect", form, "token=x"},
		{"GET", "/debug/pprof/", "", ""},
		{"GET", "/debug/pprof/cmdline", "", ""},
		{"GET", "/debug/pprof/heap", "", ""},
		{"GET", "/admin/debug/pprof/", "", ""},
		{"GET", "/admin/providers", "", ""},
		{"POST", "/admin/tokens", "application/json", `{"sub":"x"}`},
		{"GET", "/healthz", "", ""},
		{"GET", "/readyz", "", ""},
		{"GET", "/no/such/path", "", ""},
	} {
		for _, bad := range []string{"", "Bearer wrong-token-wrong-token", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+adminToken)), adminToken} {
			header := map[string]string{"Content-Type": c.ct}
			if bad != "" {
				header["Authorization"] = bad
			}
			if status, m := adminRequest(t, in, c.method, c.path, c.body, header); status != http.StatusUnauthorized || m["error"] != "invalid_token" {
				t.Errorf("%s %s with Authorization %.12q: %d %v, want 401 invalid_token", c.method, c.path, bad, status, m)
			}
		}
		if c.path == "/no/such/path" {
			continue
		}
		status, _ := adminRequest(t, in, c.method, c.path, c.body, map[string]string{"Content-Type": c.ct, "Authorization": auth})
		if status != http.StatusOK {
			t.Errorf("%s %s with the token: %d", c.method, c.path, status)
		}
	}
	if status, _ := adminRequest(t, in, "GET", "/metrics", "", nil); status != http.StatusOK {
		t.Errorf("metrics without the token: %d", status)
	}
	// With the token the Host is not checked (the listener is reached by
	// pod IP or Service name), but browsers are still refused and bodies
	// must still be declared JSON.
	if status, _ := adminRequest(t, in, "GET", "/admin/providers", "", map[string]string{"Authorization": auth, "Host": "jwt-authz.default.svc:9090"}); status != http.StatusOK {
		t.Errorf("Service host name with the token: %d", status)
	}
	if status, _ := adminRequest(t, in, "POST", "/admin/tokens", `{"sub":"x"}`, map[string]string{"Authorization": auth, "Content-Type": "application/json", "Origin": "http://evil.example"}); status != http.StatusForbidden {
		t.Errorf("foreign Origin with the token: %d", status)
	}
	if status, _ := adminRequest(t, in, "POST", "/admin/tokens", `{"sub":"x"}`, map[string]string{"Authorization": auth, "Content-Type": "text/plain"}); status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain with the token: %d", status)
	}
}

func TestServeRefusesExposedAdminWithoutToken(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "exposed.yaml")
	yaml := "grpc_addr: 127.0.0.1:0\nhttp_addr: 127.0.0.1:0\nadmin_addr: 0.0.0.0:0\ndata_dir: " + dir + "\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"config", "validate", "--config", path},
		{"serve", "--config", path},
		{"serve", "--data-dir", dir, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--admin-addr", "[::]:0"},
	} {
		var stdout, stderr strings.Builder
		done := make(chan int, 1)
		go func() { done <- run(args, &stdout, &stderr) }()
		select {
		case code := <-done:
			if code == 0 {
				t.Errorf("%v: exit 0", args)
			}
			if msg := stderr.String(); !strings.Contains(msg, "admin_addr: ") || !strings.Contains(msg, "admin_token_file") {
				t.Errorf("%v: message does not name admin_addr and admin_token_file:\n%s", args, msg)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%v started with the admin listener exposed and no token", args)
		}
	}
}

func TestCLISubjectCutOffIsInclusive(t *testing.T) {
	in := start(t, "", "")
	eventually(t, "ready", in.grpcServing)
	cfgArgs := []string{"--config", in.cfgPath, "--admin-addr", in.adminAddr}
	issue := func(sub string) (token string, iat int64) {
		var out, errOut strings.Builder
		if code := run(append([]string{"token", "issue", "--sub", sub}, cfgArgs...), &out, &errOut); code != 0 {
			t.Fatalf("token issue: exit %d: %s", code, errOut.String())
		}
		var pair struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal([]byte(out.String()), &pair); err != nil {
			t.Fatal(err)
		}
		return pair.AccessToken, claimIAT(t, pair.AccessToken)
	}
	revoke := func(args ...string) (before int64) {
		var out, errOut strings.Builder
		if code := run(append(append([]string{"revoke"}, args...), cfgArgs...), &out, &errOut); code != 0 {
			t.Fatalf("revoke %v: exit %d: %s", args, code, errOut.String())
		}
		var e struct {
			Before int64 `json:"before"`
		}
		if err := json.Unmarshal([]byte(out.String()), &e); err != nil {
			t.Fatal(err)
		}
		return e.Before
	}

	// A cut-off equal to the token's iat revokes it.
	tok, iat := issue("alice")
	if got := revoke("--sub", "alice", "--before", strconv.FormatInt(iat, 10)); got != iat {
		t.Fatalf("cut-off %d, want %d", got, iat)
	}
	if r := reasonOf(in.check(tok, "/")); r != "revoked" {
		t.Fatalf("token with iat = before: %s", r)
	}
	// Without --before the cut-off is the second the server took the
	// request: the token minted just before is revoked, in that second or
	// an earlier one.
	tok, iat = issue("bob")
	if before := revoke("--sub", "bob"); before < iat {
		t.Fatalf("default cut-off %d is before the token's iat %d", before, iat)
	}
	if r := reasonOf(in.check(tok, "/")); r != "revoked" {
		t.Fatalf("token minted before revoke --sub: %s", r)
	}
}

func TestCLIAgainstProtectedServerWithoutConfig(t *testing.T) {
	const adminToken = "fedcba9876543210fedcba9876543210"
	tokenFile := writeAdminToken(t, adminToken)
	in := start(t, "admin_token_file: "+tokenFile+"\n", "")
	eventually(t, "ready", in.grpcServing)
	t.Setenv("JWT_AUTHZ_CONFIG", "")
	t.Setenv("JWT_AUTHZ_ADMIN_TOKEN", "")
	addr := []string{"--admin-addr", in.adminAddr}

	var out, errOut strings.Builder
	if code := run(append([]string{"token", "issue", "--sub", "carol"}, addr...), &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "401") {
		t.Fatalf("token issue without the token: exit %d: %s", code, errOut.String())
	}
	out.Reset()
	if code := run(append([]string{"token", "issue", "--sub", "carol", "--admin-token-file", tokenFile}, addr...), &out, &errOut); code != 0 {
		t.Fatalf("token issue --admin-token-file: exit %d: %s", code, errOut.String())
	}
	t.Setenv("JWT_AUTHZ_ADMIN_TOKEN", adminToken)
	errOut.Reset()
	if code := run(append([]string{"revoke", "--sub", "carol"}, addr...), &out, &errOut); code != 0 {
		t.Fatalf("revoke with $JWT_AUTHZ_ADMIN_TOKEN: exit %d: %s", code, errOut.String())
	}
	if code := run(append([]string{"revoke", "--sid", "s", "--admin-token-file", filepath.Join(t.TempDir(), "missing")}, addr...), &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "--admin-token-file") {
		t.Fatalf("revoke with a missing token file: exit %d: %s", code, errOut.String())
	}
}

// claimIAT reads the iat claim of a JWT without verifying it.
func claimIAT(t *testing.T, tok string) int64 {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d segments", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		IAT int64 `json:"iat"`
	}
	if err := json.Unmarshal(b, &c); err != nil || c.IAT == 0 {
		t.Fatalf("iat: %v", err)
	}
	return c.IAT
}

// A revoked subject or session cannot be refreshed back to life: the
// refresh token itself is covered by the revocation.
func TestRefreshRefusedAfterRevocation(t *testing.T) {
	in := start(t, "", "")
	eventually(t, "ready", in.grpcServing)
	refresh := func(tok string) (int, map[string]any) {
		status, body := do(t, "POST", "http://"+in.httpAddr+"/oauth2/token", "application/x-www-form-urlencoded",
			strings.NewReader("grant_type=refresh_token&refresh_token="+tok), nil)
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		return status, m
	}
	tests := map[string]func(access string) map[string]any{
		"subject, cut-off now": func(string) map[string]any { return map[string]any{"sub": "alice"} },
		"session": func(access string) map[string]any {
			return map[string]any{"sid": claimString(t, access, "sid")}
		},
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			access, rt := in.mint("alice", "read")
			if status := in.adminJSON("POST", "/admin/revocations", body(access), nil); status != http.StatusCreated {
				t.Fatalf("revoke: %d", status)
			}
			if status, m := refresh(rt); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
				t.Fatalf("refresh after the revocation: %d %v, want 400 invalid_grant", status, m["error"])
			}
		})
	}
	// An unrevoked subject still refreshes.
	_, rt := in.mint("bob", "read")
	if status, m := refresh(rt); status != http.StatusOK {
		t.Fatalf("refresh of bob: %d %v", status, m["error"])
	}
}

// claimString reads a string claim of a JWT without verifying it.
func claimString(t *testing.T, tok, name string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d segments", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	s, _ := c[name].(string)
	if s == "" {
		t.Fatalf("no %s claim", name)
	}
	return s
}

func TestCLIProviderRevocation(t *testing.T) {
	in := start(t, "", "")
	eventually(t, "ready", in.grpcServing)
	cfgArgs := []string{"--config", in.cfgPath, "--admin-addr", in.adminAddr}
	run2 := func(args ...string) (code int, stdout, stderr string) {
		var out, errOut strings.Builder
		code = run(append(args, cfgArgs...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	issue := func(sub string) (token string, iat int64) {
		code, out, errOut := run2("token", "issue", "--sub", sub)
		if code != 0 {
			t.Fatalf("token issue: exit %d: %s", code, errOut)
		}
		var pair struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal([]byte(out), &pair); err != nil {
			t.Fatal(err)
		}
		return pair.AccessToken, claimIAT(t, pair.AccessToken)
	}

	// A subject revoked for the built-in issuer's tokens only.
	tok, _ := issue("frank")
	if code, out, errOut := run2("revoke", "--sub", "frank", "--provider", "self"); code != 0 || !strings.Contains(out, `"provider": "self"`) {
		t.Fatalf("revoke --sub --provider self: exit %d: %s%s", code, out, errOut)
	}
	if r := reasonOf(in.check(tok, "/")); r != "revoked" {
		t.Fatalf("token of a subject revoked for self: %s", r)
	}

	// Every token of the provider up to a cut-off: the one minted before
	// is revoked, one minted after it is not.
	tok, iat := issue("grace")
	if code, out, errOut := run2("revoke", "--provider", "self", "--before", strconv.FormatInt(iat, 10)); code != 0 || !strings.Contains(out, `"kind": "provider"`) {
		t.Fatalf("revoke --provider self: exit %d: %s%s", code, out, errOut)
	}
	if r := reasonOf(in.check(tok, "/")); r != "revoked" {
		t.Fatalf("token minted at the provider cut-off: %s", r)
	}

	// An unknown provider is refused, by name.
	if code, _, errOut := run2("revoke", "--provider", "nope"); code == 0 || !strings.Contains(errOut, `"nope"`) {
		t.Fatalf("revoke --provider nope: exit %d: %s", code, errOut)
	}
}
