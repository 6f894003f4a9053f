package extauthz

import (
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// TestDPoPFreshNonce: an allowed request whose proof carries a nonce with
// at most one window of its life left gets the current nonce in its
// answer's DPoP-Nonce (RFC 9449 §8.2): over gRPC in the OkHttpResponse's
// response_headers_to_add, over forward-auth as a response header. A
// current nonce gets none, nor does a provider without nonces. The
// replicas' clock stands still, so which window a nonce is of does not
// depend on when the test runs.
func TestDPoPFreshNonce(t *testing.T) {
	at := time.Now()
	f := newDPoPFixtureClock(t, func() time.Time { return at })
	const window = time.Minute // the fixture's nonce window
	current := f.nonces.Current(at)
	cases := []struct {
		name   string
		issuer string
		nonce  string // in the proof; "" for none
		status int
		want   string // the answer's DPoP-Nonce
	}{
		{"current nonce", strictIss, current, 200, ""},
		{"nonce of the previous window", strictIss, f.nonces.Current(at.Add(-window)), 200, current},
		{"nonce of the next window, from a replica whose clock runs ahead", strictIss, f.nonces.Current(at.Add(window)), 200, ""},
		{"nonce two windows old", strictIss, f.nonces.Current(at.Add(-2 * window)), 401, current},
		{"no nonce", strictIss, "", 401, current},
		{"provider without nonces", corpIss, "", 200, ""},
		{"provider without nonces, a nonce in the proof", corpIss, f.nonces.Current(at.Add(-window)), 200, ""},
	}
	for _, tr := range transports {
		for _, c := range cases {
			t.Run(tr.name+"/"+c.name, func(t *testing.T) {
				f.t = t
				tok := f.accessTokenAt(c.issuer, at)
				// Twice, at either replica: the second time the token is
				// cached, and a third time it may be hot.
				for i, r := range []*dpopReplica{f.a, f.b, f.a} {
					a := tr.send(t, r, dpopCall{auth: "DPoP " + tok, proofs: []string{f.proofAt(tok, at, c.nonce)}})
					if a.status != c.status || a.nonce != c.want {
						t.Fatalf("request %d: status %d, DPoP-Nonce %q; want %d, %q", i, a.status, a.nonce, c.status, c.want)
					}
				}
			})
		}
	}

	// The nonce is added to the allowed response, not put in place of it;
	// and a response with one does not leak it to the next request of
	// the same (hot) token.
	f.t = t
	tok := f.accessTokenAt(strictIss, at)
	stale := f.nonces.Current(at.Add(-window))
	for i := range 40 {
		nonce, want := current, ""
		if i%2 == 0 {
			nonce, want = stale, current
		}
		resp, err := f.a.client.Check(t.Context(), grpcDPoPRequest(tok, f.proofAt(tok, at, nonce)))
		if err != nil {
			t.Fatal(err)
		}
		ok := resp.GetOkResponse()
		if reasonOf(resp) != "ok" || headerOf(ok.GetResponseHeadersToAdd(), "dpop-nonce") != want || len(ok.GetResponseHeadersToAdd()) > 1 {
			t.Fatalf("request %d: %s, response headers %v; want DPoP-Nonce %q", i, reasonOf(resp), ok.GetResponseHeadersToAdd(), want)
		}
		md := resp.GetDynamicMetadata().GetFields()["jwt_authz"].GetStructValue().GetFields()
		if md["provider"].GetStringValue() != "strict" || md["payload"].GetStructValue().GetFields()["sub"].GetStringValue() != "alice" {
			t.Fatalf("request %d: dynamic metadata %v", i, resp.GetDynamicMetadata())
		}
	}
}

// accessTokenAt is a token of issuer bound to the client's key, issued at
// at.
func (f *dpopFixture) accessTokenAt(issuer string, at time.Time) string {
	return f.accessToken(issuer, f.client, func(c map[string]any) {
		c["iat"], c["exp"] = at.Unix(), at.Add(time.Hour).Unix()
	})
}

// proofAt is the client's proof for GET dpopURI with tok, made at at, with
// nonce when it is not "".
func (f *dpopFixture) proofAt(tok string, at time.Time, nonce string) string {
	c := testkit.DPoPClaims("GET", dpopURI, tok, at)
	if nonce != "" {
		c["nonce"] = nonce
	}
	return testkit.DPoPProof(f.t, f.client, c, nil)
}

// grpcDPoPRequest is the CheckRequest sendGRPC sends for tok and proof.
func grpcDPoPRequest(tok, proof string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: dpopPath, Host: dpopHost, Scheme: "https",
			Headers: map[string]string{"authorization": "DPoP " + tok, "dpop": proof}},
	}}}
}
