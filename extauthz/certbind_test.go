package extauthz

import (
	"net/http/httptest"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// certs are two client certificates of one CA, as a TLS server saw them.
type certs struct {
	good, other []byte // DER
}

func newCerts(t *testing.T) certs {
	ca := testkit.NewCA(t)
	return certs{
		good:  ca.PeerCertificate(t, ca.ClientCert(t, "client")),
		other: ca.ClientCert(t, "other").Certificate[0],
	}
}

func boundTo(der []byte) func(map[string]any) {
	return func(c map[string]any) { c["cnf"] = map[string]any{"x5t#S256": testkit.Thumbprint(der)} }
}

func (e *env) checkWithCert(tok string, cert string, headers map[string]string) string {
	e.t.Helper()
	h := map[string]string{}
	for k, v := range headers {
		h[k] = v
	}
	req := checkReq("GET", "/orders", h)
	if tok != "" {
		req.Attributes.Request.Http.Headers["authorization"] = "Bearer " + tok
	}
	if cert != "" {
		req.Attributes.Source = &authv3.AttributeContext_Peer{Certificate: cert}
	}
	resp, err := e.srv.Check(e.t.Context(), req)
	if err != nil {
		e.t.Fatal(err)
	}
	return reasonOf(resp)
}

func TestCertBoundCheck(t *testing.T) {
	c := newCerts(t)
	e := newEnv(t, nil)
	bound := e.token(boundTo(c.good))
	unbound := e.token(nil)
	odd := e.token(func(m map[string]any) { m["cnf"] = map[string]any{"x5t#S256": 7} })
	good, other := testkit.EscapedPEM(c.good), testkit.EscapedPEM(c.other)
	xfcc := map[string]string{"x-forwarded-client-cert": `Cert="` + good + `"`}
	for _, tc := range []struct {
		name, tok, cert string
		headers         map[string]string
		want            string
	}{
		{"bound with its certificate", bound, good, nil, "ok"},
		{"bound, again (cached)", bound, good, nil, "ok"},
		{"bound with another certificate", bound, other, nil, "cert_mismatch"},
		{"bound without a certificate", bound, "", nil, "cert_mismatch"},
		{"bound, certificate only in a header", bound, "", xfcc, "cert_mismatch"},
		{"bound, not PEM", bound, "MIIB%2Fxyz", nil, "cert_mismatch"},
		{"bound, bad escape", bound, "%zz", nil, "cert_mismatch"},
		{"bound with its certificate, once more", bound, good, nil, "ok"},
		{"unbound without a certificate", unbound, "", nil, "ok"},
		{"unbound with a certificate", unbound, other, nil, "ok"},
		{"thumbprint not a string", odd, good, nil, "cert_mismatch"},
	} {
		if got := e.checkWithCert(tc.tok, tc.cert, tc.headers); got != tc.want {
			t.Errorf("%s: reason %q, want %q", tc.name, got, tc.want)
		}
	}
	// Every Check of the bound token after the first was a cache hit, and
	// each was checked against its certificate.
	if hits := testutil.ToFloat64(e.m.cacheHit); hits < 6 {
		t.Fatalf("cache hits %v", hits)
	}
	if n := testutil.ToFloat64(e.m.checks.WithLabelValues("corp", "denied", "cert_mismatch")); n != 6 {
		t.Fatalf("cert_mismatch denials counted %v, want 6", n)
	}
}

// A token hot enough for the hot tier is still checked against the
// certificate of every request.
func TestCertBoundHotToken(t *testing.T) {
	c := newCerts(t)
	e := newEnv(t, nil)
	bound := e.token(boundTo(c.good))
	good, other := testkit.EscapedPEM(c.good), testkit.EscapedPEM(c.other)
	for i := range 200 {
		if got := e.checkWithCert(bound, good, nil); got != "ok" {
			t.Fatalf("request %d: %q", i, got)
		}
		if got := e.checkWithCert(bound, other, nil); got != "cert_mismatch" {
			t.Fatalf("request %d with another certificate: %q", i, got)
		}
	}
}

func TestMTLSRequired(t *testing.T) {
	c := newCerts(t)
	e := newEnv(t, nil)
	e.prov.MTLSBound = MTLSRequired
	e.srv.SetPolicy(e.policy(nil))
	good := testkit.EscapedPEM(c.good)
	if got := e.checkWithCert(e.token(nil), good, nil); got != "cert_mismatch" {
		t.Fatalf("unbound token under required: %q", got)
	}
	if got := e.checkWithCert(e.token(boundTo(c.good)), good, nil); got != "ok" {
		t.Fatalf("bound token under required: %q", got)
	}
}

func TestCertBoundForwardAuth(t *testing.T) {
	c := newCerts(t)
	good, other := testkit.EscapedPEM(c.good), testkit.EscapedPEM(c.other)
	e := newEnv(t, nil)
	withHeader := e.policy(func(o *PolicyOptions) { o.ClientCertHeader = "x-forwarded-client-cert" })
	without := e.policy(nil)
	bound := e.token(boundTo(c.good))
	element := func(cert string) string {
		return `By=spiffe://cluster.local/ns/default/sa/api;Hash=468ed33b;Cert="` + cert + `";Subject="CN=client,O=Example";URI=spiffe://cluster.local/ns/default/sa/client`
	}
	for _, tc := range []struct {
		name  string
		pol   *Policy
		xfcc  []string
		token string
		want  int
	}{
		{"XFCC, the client's certificate", withHeader, []string{element(good)}, bound, 200},
		{"XFCC, last element counts", withHeader, []string{element(other) + "," + element(good)}, bound, 200},
		{"XFCC, earlier element ignored", withHeader, []string{element(good) + "," + element(other)}, bound, 401},
		{"XFCC, another certificate", withHeader, []string{element(other)}, bound, 401},
		{"XFCC without Cert", withHeader, []string{`By=spiffe://a;Hash=1;Subject="CN=client"`}, bound, 401},
		{"XFCC, unterminated quote", withHeader, []string{`Cert="` + good}, bound, 401},
		{"XFCC, two Cert", withHeader, []string{`Cert="` + good + `";Cert="` + other + `"`}, bound, 401},
		{"XFCC, sent twice", withHeader, []string{element(good), element(good)}, bound, 401},
		{"bare URL-encoded PEM (nginx)", withHeader, []string{good}, bound, 200},
		{"bare PEM, another certificate", withHeader, []string{other}, bound, 401},
		{"no header", withHeader, nil, bound, 401},
		{"unbound token, no header", withHeader, nil, e.token(nil), 200},
		{"header not configured: ignored", without, []string{element(good)}, bound, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/authz/orders", nil)
			req.Host = "api.example.com"
			req.Header.Set("Authorization", "Bearer "+tc.token)
			for _, v := range tc.xfcc {
				req.Header.Add("X-Forwarded-Client-Cert", v)
			}
			rec := httptest.NewRecorder()
			e.srv.SetPolicy(tc.pol)
			e.srv.ForwardAuthHandler().ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tc.want, rec.Body)
			}
			if tc.want == 401 && !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Fatalf("challenge %q", rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

func TestXFCCCert(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{`Cert="abc"`, "abc", true},
		{`cert=abc`, "abc", true},
		{`By=x;Cert="a,b;c=d";Subject="CN=x,O=y"`, "a,b;c=d", true},
		{`Cert="first",By=x;Cert="second"`, "second", true},
		{`Cert="first", By=x;Subject="a\"b";Cert="se\\cond"`, `se\cond`, true},
		{`Cert="first",`, "first", true},
		{`By=x;Subject="CN=a"`, "", false},
		{`Cert="abc`, "", false},
		{`Cert=a"b`, "", false},
		{`Cert`, "", false},
		{`=abc`, "", false},
		{`Cert=""`, "", false},
		{`Cert="a";Cert="b"`, "", false},
		{``, "", false},
		{`"`, "", false},
		{`Cert="a\`, "", false},
	} {
		got, ok := xfccCert(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("xfccCert(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzClientCert feeds arbitrary client certificate headers and
// source.certificate values to the parser: it must never panic, and a
// certificate it reads must be one the PEM really holds.
func FuzzClientCert(f *testing.F) {
	ca := testkit.NewCA(f)
	der := ca.ClientCert(f, "client").Certificate[0]
	pem := testkit.EscapedPEM(der)
	f.Add(pem)
	f.Add(`By=spiffe://a;Hash=1;Cert="` + pem + `";Subject="CN=a,O=b";URI=spiffe://b`)
	f.Add(`Cert="x",Cert="` + pem + `"`)
	f.Add(`Cert="` + pem[:40])
	f.Add(`Subject="\"";Cert=-----BEGIN%20CERTIFICATE-----%0AAAAA%0A-----END%20CERTIFICATE-----`)
	f.Add("-----BEGIN%20CERTIFICATE-----%0A%ZZ")
	f.Add(`;;,,=;"\`)
	f.Fuzz(func(t *testing.T, v string) {
		for _, from := range []certSource{certPEM, certHeader} {
			r := request{cert: v, certFrom: from}
			got, ok := r.certDER()
			if ok && len(got) == 0 {
				t.Fatalf("empty certificate read from %q", v)
			}
			if ok && thumbprintMatches(got, testkit.Thumbprint(der)) && string(got) != string(der) {
				t.Fatalf("thumbprint collision from %q", v)
			}
		}
	})
}
