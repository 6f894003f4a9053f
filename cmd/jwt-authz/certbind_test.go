package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// TestCertificateBoundTokens sends tokens bound to a client certificate
// (RFC 8705) through the gRPC Check, with the certificate in
// source.certificate as Envoy sends it with include_peer_certificate, and
// through forward-auth with Envoy's x-forwarded-client-cert header.
func TestCertificateBoundTokens(t *testing.T) {
	k := testkit.NewKey(t, "ES256", "k1")
	js := newJWKSServer(t, k)
	ca := testkit.NewCA(t)
	client := ca.PeerCertificate(t, ca.ClientCert(t, "client"))
	stranger := ca.PeerCertificate(t, ca.ClientCert(t, "stranger"))
	cfg := corpConfig(js.URL, `    mtls_bound: allowed
  - name: strict
    issuer: https://strict.example.com/
    audiences: [orders-api]
    jwks_uri: `+js.URL+`
    mtls_bound: required
forward_auth_client_cert_header: x-forwarded-client-cert
`)
	in := start(t, cfg, "")
	plain := start(t, corpConfig(js.URL, ""), "")
	eventually(t, "ready", in.grpcServing)
	eventually(t, "ready", plain.grpcServing)

	bound := func(iss string, der []byte) string {
		c := testkit.Claims(iss, "alice", "orders-api")
		c["cnf"] = map[string]any{"x5t#S256": testkit.Thumbprint(der)}
		return testkit.Sign(t, k, c, nil)
	}
	corpBound := bound(corpIss, client)
	strictBound := bound("https://strict.example.com/", client)
	corpUnbound := testkit.Sign(t, k, testkit.Claims(corpIss, "alice", "orders-api"), nil)
	strictUnbound := testkit.Sign(t, k, testkit.Claims("https://strict.example.com/", "alice", "orders-api"), nil)

	grpcCheck := func(in *instance, tok string, cert []byte, headers map[string]string) string {
		t.Helper()
		h := map[string]string{"authorization": "Bearer " + tok}
		for k, v := range headers {
			h[k] = v
		}
		attrs := &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/orders", Host: "api.example.com", Headers: h},
		}}
		if cert != nil {
			attrs.Source = &authv3.AttributeContext_Peer{Principal: "spiffe://cluster.local/ns/default/sa/client", Certificate: testkit.EscapedPEM(cert)}
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		resp, err := authv3.NewAuthorizationClient(in.conn).Check(ctx, &authv3.CheckRequest{Attributes: attrs})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		return reasonOf(resp)
	}
	xfcc := map[string]string{"x-forwarded-client-cert": `Cert="` + testkit.EscapedPEM(client) + `"`}
	for _, tc := range []struct {
		name    string
		tok     string
		cert    []byte
		headers map[string]string
		want    string
	}{
		{"bound, its certificate", corpBound, client, nil, "ok"},
		{"bound, its certificate again (cached)", corpBound, client, nil, "ok"},
		{"bound, another certificate", corpBound, stranger, nil, "cert_mismatch"},
		{"bound, no certificate", corpBound, nil, nil, "cert_mismatch"},
		{"bound, certificate only in a header", corpBound, nil, xfcc, "cert_mismatch"},
		{"unbound, allowed", corpUnbound, client, nil, "ok"},
		{"unbound, required", strictUnbound, client, nil, "cert_mismatch"},
		{"bound, required", strictBound, client, nil, "ok"},
		{"bound, required, another certificate", strictBound, stranger, nil, "cert_mismatch"},
	} {
		if got := grpcCheck(in, tc.tok, tc.cert, tc.headers); got != tc.want {
			t.Errorf("gRPC %s: reason %q, want %q", tc.name, got, tc.want)
		}
	}

	element := func(der []byte) string {
		return `By=spiffe://cluster.local/ns/default/sa/api;Hash=4a6f;Cert="` + testkit.EscapedPEM(der) + `";Subject="CN=client,O=Example";URI=spiffe://cluster.local/ns/default/sa/client`
	}
	for _, tc := range []struct {
		name   string
		in     *instance
		tok    string
		header string // x-forwarded-client-cert; "" for none
		want   int
	}{
		{"XFCC, its certificate", in, corpBound, element(client), 200},
		{"XFCC, appended after a forwarded element", in, corpBound, element(stranger) + "," + element(client), 200},
		{"XFCC, another certificate", in, corpBound, element(stranger), 401},
		{"XFCC, its certificate forwarded, another appended", in, corpBound, element(client) + "," + element(stranger), 401},
		{"XFCC, malformed", in, corpBound, `Cert="` + testkit.EscapedPEM(client), 401},
		{"bare URL-encoded PEM", in, corpBound, testkit.EscapedPEM(client), 200},
		{"no header", in, corpBound, "", 401},
		{"required, unbound", in, strictUnbound, element(client), 401},
		{"header not configured", plain, corpBound, element(client), 401},
	} {
		h := map[string]string{"Authorization": "Bearer " + tc.tok}
		if tc.header != "" {
			h["X-Forwarded-Client-Cert"] = tc.header
		}
		resp := sendCertHTTP(t, tc.in.httpAddr, h)
		if resp.StatusCode != tc.want {
			t.Errorf("forward-auth %s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
		if tc.want == 401 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("forward-auth %s: challenge %q", tc.name, resp.Header.Get("WWW-Authenticate"))
		}
	}
	_, body := do(t, "GET", "http://"+in.adminAddr+"/metrics", "", nil, nil)
	metrics := string(body)
	for _, want := range []string{
		`jwt_authz_check_requests_total{provider="corp",reason="cert_mismatch",result="denied"}`,
		`jwt_authz_check_requests_total{provider="strict",reason="cert_mismatch",result="denied"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func sendCertHTTP(t *testing.T, addr string, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", fmt.Sprintf("http://%s/authz/orders", addr), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "api.example.com"
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
