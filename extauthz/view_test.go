package extauthz

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/protobuf/proto"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/internal/urlpath"
)

func TestRequestView(t *testing.T) {
	tests := []struct {
		name                        string
		method, target, host, query string
		mode                        urlpath.Mode
		wantMethod, wantPath        string
		wantHost, wantQuery         string
		ok                          bool
	}{
		{"clean", "GET", "/api/orders", "api.example.com", "", urlpath.Reject, "GET", "/api/orders", "api.example.com", "", true},
		{"lower-case method", "delete", "/api", "h", "", urlpath.Reject, "DELETE", "/api", "h", "", true},
		{"mixed-case method", "Post", "/api", "h", "", urlpath.Reject, "POST", "/api", "h", "", true},
		{"host case and trailing dot", "GET", "/", "API.Example.COM.", "", urlpath.Reject, "GET", "/", "api.example.com", "", true},
		{"trailing dot before port", "GET", "/", "api.example.com.:8443", "", urlpath.Reject, "GET", "/", "api.example.com:8443", "", true},
		{"ipv6 host", "GET", "/", "[::1]:8080", "", urlpath.Reject, "GET", "/", "[::1]:8080", "", true},
		{"query cut", "GET", "/a?b=1&c", "h", "", urlpath.Reject, "GET", "/a", "h", "b=1&c", true},
		{"query given apart", "GET", "/a", "h", "x=1", urlpath.Reject, "GET", "/a", "h", "x=1", true},
		{"target query wins", "GET", "/a?y=2", "h", "x=1", urlpath.Reject, "GET", "/a", "h", "y=2", true},
		{"fragment after query cut", "GET", "/a?b#c", "h", "", urlpath.Reject, "GET", "/a", "h", "b", true},
		{"fragment in path refused", "GET", "/public#/../admin", "h", "", urlpath.Reject, "GET", "", "h", "", false},
		{"fragment with an escape refused in envoy mode", "GET", "/public#%2e%2e", "h", "", urlpath.Envoy, "GET", "", "h", "", false},
		{"fragment cut", "GET", "/public#x", "h", "", urlpath.Reject, "GET", "/public", "h", "", true},
		{"fragment cut in envoy mode", "GET", "/public#x", "h", "", urlpath.Envoy, "GET", "/public", "h", "", true},
		{"fragment before the query cut", "GET", "/a#frag?b=1", "h", "", urlpath.Reject, "GET", "/a", "h", "", true},
		{"fragment with a backslash refused", "GET", `/public#\..\admin`, "h", "", urlpath.Reject, "GET", "", "h", "", false},
		{"dot segment refused", "GET", "/a/../b", "h", "", urlpath.Reject, "GET", "", "h", "", false},
		{"dot segment resolved", "GET", "/a/../b?q", "h", "", urlpath.Envoy, "GET", "/b", "h", "q", true},
		{"no host", "GET", "/", "", "", urlpath.Reject, "GET", "/", "", "", true},
		{"empty target", "GET", "", "h", "", urlpath.Reject, "GET", "/", "h", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := request{method: tc.method, target: tc.target, host: tc.host, query: tc.query}
			ok := r.view(tc.mode)
			if ok != tc.ok || r.method != tc.wantMethod || r.path != tc.wantPath || r.host != tc.wantHost || (ok && r.query != tc.wantQuery) {
				t.Fatalf("view = %v %q %q %q %q; want %v %q %q %q %q", ok, r.method, r.path, r.host, r.query, tc.ok, tc.wantMethod, tc.wantPath, tc.wantHost, tc.wantQuery)
			}
		})
	}
}

func TestRuleMatching(t *testing.T) {
	e := newEnv(t, func(o *PolicyOptions) {
		o.Rules = []Rule{
			{PathPrefix: "/public", AllowAnonymous: true},
			{PathPrefix: "/static/", AllowAnonymous: true},
			{Path: "/status", AllowAnonymous: true},
			{PathPrefix: "/api", Methods: []string{"DELETE"}, RequireScopes: []string{"admin"}},
			{PathPrefix: "/api", AllowAnonymous: true},
			{PathPrefix: "/files", Methods: []string{"put"}, RequireScopes: []string{"write"}},
			{PathPrefix: "/files", AllowAnonymous: true},
			{Host: "Open.Example.com.", AllowAnonymous: true},
			{Host: "port.example.com:8443", AllowAnonymous: true},
			{Host: "[::1]", PathPrefix: "/v6", AllowAnonymous: true},
		}
	})
	pol := e.srv.Policy()
	tests := []struct {
		method, path, host string
		anonymous          bool
	}{
		{"GET", "/public", "h", true},
		{"GET", "/public/", "h", true},
		{"GET", "/public/x/y", "h", true},
		{"GET", "/publicity", "h", false},
		{"GET", "/public-x", "h", false},
		{"GET", "/pub", "h", false},
		{"GET", "/static/", "h", true},
		{"GET", "/static/a.css", "h", true},
		{"GET", "/static", "h", false},
		{"GET", "/staticx", "h", false},
		{"GET", "/status", "h", true},
		{"GET", "/status/", "h", false},
		{"GET", "/status/x", "h", false},
		{"GET", "/statusx", "h", false},
		{"DELETE", "/api/x", "h", false},
		{"GET", "/api/x", "h", true},
		{"PUT", "/files/a", "h", false}, // a rule's method in lower case
		{"GET", "/files/a", "h", true},
		{"GET", "/x", "open.example.com", true},
		{"GET", "/x", "open.example.com:443", true},
		{"GET", "/x", "open.example.comx", false},
		{"GET", "/x", "port.example.com:8443", true},
		{"GET", "/x", "port.example.com", false},
		{"GET", "/x", "port.example.com:443", false},
		{"GET", "/v6/a", "[::1]:8080", true},
		{"GET", "/v6/a", "[::1]", true},
		{"GET", "/v6/a", "[::2]", false},
		{"GET", "/x", "", false},
	}
	for _, tc := range tests {
		if got := pol.match(tc.method, tc.path, tc.host).AllowAnonymous; got != tc.anonymous {
			t.Errorf("match(%s %s host %q) anonymous = %v, want %v", tc.method, tc.path, tc.host, got, tc.anonymous)
		}
	}
}

func TestPolicyRefusesUnnormalizedRulePaths(t *testing.T) {
	e := newEnv(t, nil)
	for _, r := range []Rule{
		{PathPrefix: "/a/../b"}, {PathPrefix: "/a%2Fb"}, {Path: "/a//b"}, {Path: "/caf%c3%a9"}, {PathPrefix: "public"}, {Path: "/a?b"},
	} {
		if _, err := NewPolicy(PolicyOptions{Verifier: e.srv.Policy().verifier, Providers: []*Provider{e.prov}, Rules: []Rule{r}}, e.m); err == nil {
			t.Errorf("rule %+v accepted", r)
		}
	}
}

// TestAmbiguousPathAnswer checks the whole answer to an ambiguous path:
// gRPC INVALID_ARGUMENT, HTTP 400 with the invalid_request body and no
// challenge, the reason in dynamic metadata, metrics and the log line,
// whose raw path is escaped and cut short.
func TestAmbiguousPathAnswer(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, nil)
	e.srv.log = slog.New(slog.NewJSONHandler(&logs, nil))
	raw := "/admin/..%2Fpublic/\"\\" + strings.Repeat("x", 400)
	resp := e.check("GET", raw+"?q=1", bearerHdr(e.token(nil)))
	if got := resp.GetStatus().GetCode(); got != int32(code.Code_INVALID_ARGUMENT) {
		t.Fatalf("gRPC status %v", got)
	}
	d := resp.GetDeniedResponse()
	if d.GetStatus().GetCode() != 400 || d.GetBody() != `{"error":"invalid_request","error_description":"ambiguous_path"}` {
		t.Fatalf("denied %d %s", d.GetStatus().GetCode(), d.GetBody())
	}
	if headerOf(d.GetHeaders(), "www-authenticate") != "" || headerOf(d.GetHeaders(), "content-type") != "application/json" {
		t.Fatalf("headers %v", d.GetHeaders())
	}
	if reasonOf(resp) != "ambiguous_path" {
		t.Fatalf("metadata reason %q", reasonOf(resp))
	}
	if n := testutil.ToFloat64(e.m.checks.WithLabelValues("none", "denied", "ambiguous_path")); n != 1 {
		t.Fatalf("count %v", n)
	}
	var rec map[string]any
	if err := json.Unmarshal(logs.Bytes(), &rec); err != nil {
		t.Fatalf("log %q: %v", logs.String(), err)
	}
	want := `/admin/..%2Fpublic/\x22\x5c` + strings.Repeat("x", maxLoggedPath-len(`/admin/..%2Fpublic/"\`)) + "..."
	if rec["level"] != "INFO" || rec["reason"] != "ambiguous_path" || rec["raw_path"] != want {
		t.Fatalf("log record %v\nwant raw_path %q", rec, want)
	}
	if strings.Contains(logs.String(), "eyJ") {
		t.Fatal("the token was logged")
	}

	// Dry run lets it through, counted as what it would have been.
	dry := newEnv(t, func(o *PolicyOptions) { o.DryRun = true })
	if resp := dry.check("GET", "/a/../b", nil); resp.GetStatus().GetCode() != int32(code.Code_OK) {
		t.Fatal("dry run refused an ambiguous path")
	}
	if n := testutil.ToFloat64(dry.m.checks.WithLabelValues("none", "dry_run_denied", "ambiguous_path")); n != 1 {
		t.Fatalf("dry run count %v", n)
	}

	// The same path under envoy normalization is a path under /admin.
	envoy := newEnv(t, func(o *PolicyOptions) {
		o.PathNormalization = PathEnvoy
		o.Rules = []Rule{{PathPrefix: "/public", AllowAnonymous: true}}
	})
	for path, want := range map[string]string{
		"/admin/..%2Fpublic":  "missing",
		`/admin\..\public`:    "ok",
		"/admin/../public":    "ok",
		"/public/../admin":    "missing",
		"/public/%2e%2e/adm":  "missing",
		"/public%00":          "ambiguous_path",
		"/public/%zz":         "ambiguous_path",
		"/public#x":           "ok",
		"/public#/../admin":   "ambiguous_path",
		"/public//x?y=/../..": "ok",
	} {
		if got := reasonOf(envoy.check("GET", path, nil)); got != want {
			t.Errorf("envoy mode %s: %s, want %s", path, got, want)
		}
	}
}

// TestRequestViewAllocs keeps the view of a canonical request free of
// allocations, so a cached Check stays so.
func TestRequestViewAllocs(t *testing.T) {
	if testkit.RaceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	r := request{method: "GET", target: "/api/v1/orders/12345?expand=items", host: "api.example.com:443"}
	n := testing.AllocsPerRun(100, func() {
		v := r
		if !v.view(urlpath.Reject) {
			t.Fatal("refused")
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// BenchmarkRequestView is the cost of the request view of a clean
// request, as Envoy sends it.
func BenchmarkRequestView(b *testing.B) {
	for _, bc := range []struct{ name, method, target, host string }{
		{"clean", "GET", "/api/v1/orders/12345?expand=items", "api.example.com"},
		{"root", "GET", "/", "api.example.com"},
		{"rewritten", "get", "/api//v1/%7Eorders/caf%c3%a9", "API.example.com."},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := request{method: bc.method, target: bc.target, host: bc.host}
				r.view(urlpath.Reject)
			}
		})
	}
}

// TestAmbiguousDenialRemembered makes sure the prebuilt 400 is
// sent as remembered bytes, like every other denial.
func TestAmbiguousDenialRemembered(t *testing.T) {
	e := newEnv(t, nil)
	resp := e.srv.Policy().none.denials[ReasonAmbiguousPath]
	b, ok := wireOf(resp)
	if !ok {
		t.Fatal("not remembered")
	}
	want, _ := proto.MarshalOptions{Deterministic: true}.Marshal(resp)
	if !bytes.Equal(b, want) {
		t.Fatal("remembered bytes differ")
	}
}
