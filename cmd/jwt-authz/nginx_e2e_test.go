package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

const downIss = "https://down.example.com/"

// nginxAuthzConfig: /public and the host open.example.com are anonymous,
// GET /api is anonymous but DELETE /api needs scope admin, everything else
// a token. Provider down's JWKS endpoint fails, so its tokens are answered
// 503 keys_unavailable.
func nginxAuthzConfig(corpJWKS, downJWKS string) string {
	return corpConfig(corpJWKS, fmt.Sprintf(`  - name: down
    issuer: %s
    jwks_uri: %s
    jwks_refresh_interval: 1h
    jwks_min_refresh_interval: 1h
rules:
  - match: { path_prefix: /public }
    allow_anonymous: true
  - match: { host: open.example.com }
    allow_anonymous: true
  - match: { path_prefix: /api, methods: [DELETE] }
    require_scopes: [admin]
  - match: { path_prefix: /api, methods: [GET] }
    allow_anonymous: true
`, downIss, downJWKS))
}

// TestNginxAuthRequest runs a real nginx with examples/nginx (the
// documented snippet, verbatim) in front of an application and jwt-authz,
// and drives it as a client would.
func TestNginxAuthRequest(t *testing.T) {
	nginxBinary(t)
	corpKey := testkit.NewKey(t, "ES256", "k1")
	downKey := testkit.NewKey(t, "ES256", "d1")
	corpJWKS := newJWKSServer(t, corpKey)
	downJWKS := newJWKSServer(t, downKey)
	downJWKS.fail(500)
	in := start(t, nginxAuthzConfig(corpJWKS.URL, downJWKS.URL), "")
	tok := corpToken(t, corpKey)
	eventually(t, "corp keys loaded", func() bool { return reasonOf(in.check(tok, "/x")) == "ok" })
	app := newEchoApp(t)
	ngx := startNginx(t, in.httpAddr, app.Listener.Addr().String())

	const host = "api.example.com"
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	admin := testkit.Claims(corpIss, "root", "orders-api")
	admin["scope"] = "admin"
	adminTok := testkit.Sign(t, corpKey, admin, nil)

	// allowed expects 200 from the application, which saw the request with
	// x-jwt-sub set to sub ("" = no such header).
	allowed := func(t *testing.T, method, uri, host string, header map[string]string, sub string) {
		t.Helper()
		r := ngx.send(t, method, uri, host, header)
		seen := app.take()
		if r.status != 200 || len(seen) != 1 {
			t.Fatalf("%s %s: status %d, application saw %d requests, want 200 and 1\n%s", method, uri, r.status, len(seen), r.body)
		}
		if got := seen[0].header.Values("X-Jwt-Sub"); (sub == "" && len(got) != 0) || (sub != "" && (len(got) != 1 || got[0] != sub)) {
			t.Fatalf("%s %s: application saw X-Jwt-Sub %q, want %q", method, uri, got, sub)
		}
		if seen[0].method != method || seen[0].uri != uri {
			t.Fatalf("application served %s %s, client sent %s %s", seen[0].method, seen[0].uri, method, uri)
		}
	}
	// denied expects status from nginx and nothing reaching the application.
	denied := func(t *testing.T, method, uri, host string, header map[string]string, status int) nginxResponse {
		t.Helper()
		r := ngx.send(t, method, uri, host, header)
		if seen := app.take(); r.status != status || len(seen) != 0 {
			t.Fatalf("%s %s: status %d, application saw %d requests, want %d and none\n%s", method, uri, r.status, len(seen), status, r.body)
		}
		return r
	}

	t.Run("valid token forwards the claim", func(t *testing.T) {
		allowed(t, "GET", "/orders/1?x=1", host, bearer(tok), "alice")
		allowed(t, "POST", "/orders", host, bearer(tok), "alice")
	})
	t.Run("no token is 401 with the challenge", func(t *testing.T) {
		r := denied(t, "GET", "/orders/1", host, nil, 401)
		if got := r.header.Values("Www-Authenticate"); len(got) != 1 || got[0] != `Bearer realm="jwt-authz"` {
			t.Fatalf("WWW-Authenticate %q", got)
		}
		r = denied(t, "GET", "/orders/1", host, bearer("not-a-jwt"), 401)
		if got := r.header.Values("Www-Authenticate"); len(got) != 1 || !strings.Contains(got[0], `error="invalid_token"`) {
			t.Fatalf("WWW-Authenticate %q", got)
		}
	})
	t.Run("anonymous allow strips a client-sent claim header", func(t *testing.T) {
		allowed(t, "GET", "/public/page", host, map[string]string{"X-Jwt-Sub": "root"}, "")
		allowed(t, "GET", "/public", host, nil, "")
		allowed(t, "GET", "/", "open.example.com", nil, "")
	})
	t.Run("insufficient scope is 403 with the challenge", func(t *testing.T) {
		r := denied(t, "DELETE", "/api/x", host, bearer(tok), 403)
		if got := r.header.Values("Www-Authenticate"); len(got) != 1 || !strings.Contains(got[0], `error="insufficient_scope"`) {
			t.Fatalf("WWW-Authenticate %q", got)
		}
		allowed(t, "DELETE", "/api/x", host, bearer(adminTok), "root")
	})
	t.Run("client-sent forward-auth headers change nothing", func(t *testing.T) {
		spoof := map[string]string{
			"X-Original-URI":     "/public",
			"X-Original-Method":  "GET",
			"X-Original-Host":    "open.example.com",
			"X-Forwarded-Uri":    "/public",
			"X-Forwarded-Method": "GET",
			"X-Forwarded-Host":   "open.example.com",
		}
		denied(t, "GET", "/orders/1", host, spoof, 401)
		denied(t, "DELETE", "/api/x", host, spoof, 401)
		for name, value := range spoof {
			denied(t, "GET", "/orders/1", host, map[string]string{name: value}, 401)
		}
		allowed(t, "GET", "/api/x", host, spoof, "")
	})
	t.Run("a rule prefix matches whole segments", func(t *testing.T) {
		denied(t, "GET", "/publicity", host, nil, 401)
		denied(t, "GET", "/public-x/y", host, nil, 401)
		allowed(t, "GET", "/publicity", host, bearer(tok), "alice")
	})
	t.Run("ambiguous paths are refused", func(t *testing.T) {
		// jwt-authz's 400, which nginx turns into 500 and the snippet back
		// into 400.
		for _, uri := range []string{
			"/admin/..%2Fpublic",
			"/admin/..%2fpublic",
			"/admin%2F..%2Fpublic",
			"/admin/%2E%2E/public",
			`/admin\..\public`,
			"/admin/..%5Cpublic",
			"/admin/../public",
			"/admin/./../public",
			"/public/..",
			"/public/%2e%2e/admin",
			"/public/..;/admin",
		} {
			r := denied(t, "GET", uri, host, nil, 400)
			if !strings.Contains(r.body, `"invalid_request"`) {
				t.Fatalf("GET %s: 400 not from jwt-authz: %s", uri, r.body)
			}
		}
		// nginx refuses these itself.
		denied(t, "GET", "/public%00/x", host, nil, 400)
		denied(t, "GET", "/public/%zz", host, nil, 400)
	})
	t.Run("DPoP-bound token with a proof for the URL nginx served", func(t *testing.T) {
		client := testkit.NewKey(t, "EdDSA", "")
		c := testkit.Claims(corpIss, "carol", "orders-api")
		c["cnf"] = map[string]any{"jkt": client.JKT(t)}
		bound := testkit.Sign(t, corpKey, c, nil)
		withProof := func(htu string, extra map[string]string) map[string]string {
			h := map[string]string{"Authorization": "DPoP " + bound,
				"DPoP": testkit.DPoPProof(t, client, testkit.DPoPClaims("GET", htu, bound, time.Now()), nil)}
			for k, v := range extra {
				h[k] = v
			}
			return h
		}
		// nginx listens on plain HTTP: X-Original-Proto says http.
		allowed(t, "GET", "/orders/1?page=2", host, withProof("http://"+host+"/orders/1", nil), "carol")
		for name, h := range map[string]map[string]string{
			"https URL":                 withProof("https://"+host+"/orders/1", nil),
			"https URL, client's proto": withProof("https://"+host+"/orders/1", map[string]string{"X-Original-Proto": "https"}),
			"another path":              withProof("http://"+host+"/orders/2", nil),
			"as Bearer":                 {"Authorization": "Bearer " + bound},
		} {
			r := denied(t, "GET", "/orders/1", host, h, 401)
			if got := r.header.Get("Www-Authenticate"); !strings.HasPrefix(got, `DPoP error="invalid_dpop_proof"`) {
				t.Fatalf("%s: WWW-Authenticate %q", name, got)
			}
		}
	})
	t.Run("jwt-authz unavailable is 503 for the client", func(t *testing.T) {
		downTok := testkit.Sign(t, downKey, testkit.Claims(downIss, "bob"), nil)
		r := denied(t, "GET", "/orders/1", host, bearer(downTok), 503)
		if got := r.header.Get("Retry-After"); got == "" {
			t.Fatalf("503 without Retry-After; headers %v", r.header)
		}
	})
}
