package extauthz

import (
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/protobuf/proto"
)

// FuzzCheck sends Checks with arbitrary method, path and headers: Check
// must never panic, never return an error and never allow (no rule allows
// anonymous access, and no valid token can be forged).
func FuzzCheck(f *testing.F) {
	f.Add("GET", "/orders", "Bearer x.y.z", "a=b", "x")
	f.Add("OPTIONS", "/", "", "", "")
	f.Add("POST", "/healthz/../admin?access_token=abc", "bearer eyJhbGciOiJub25lIn0.e30.", "access_token=eyJ", "eyJ.eyJ.")
	f.Add("GET", "%2e%2e/%2f", "Basic Zm9vOmJhcg==", ";;;=", "\x00\xff")
	f.Fuzz(func(t *testing.T, method, path, authz, cookie, xtoken string) {
		e := fuzzEnv(t)
		headers := map[string]string{"authorization": authz, "cookie": cookie, "x-access-token": xtoken}
		resp, err := e.srv.Check(t.Context(), checkReq(method, path, headers))
		if err != nil {
			t.Fatalf("Check error: %v", err)
		}
		if resp.GetStatus().GetCode() == int32(code.Code_OK) {
			t.Fatalf("allowed method=%q path=%q authz=%q", method, path, authz)
		}
	})
}

var fuzzShared *env

func fuzzEnv(t *testing.T) *env {
	if fuzzShared == nil {
		fuzzShared = newEnv(t, func(o *PolicyOptions) {
			o.Sources = []Source{{Header: "authorization"}, {Header: "x-access-token"}, {Cookie: "access_token"}, {Query: "access_token"}}
			o.BypassCORSPreflight = false
		})
	}
	return fuzzShared
}

// FuzzDecodeCheck feeds arbitrary bytes to the in-place request reader:
// it must never panic, and whenever the bytes are a valid CheckRequest it
// must read what the generated message reads.
func FuzzDecodeCheck(f *testing.F) {
	for _, msg := range wireRequests() {
		b, err := proto.Marshal(msg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got request
		err := decodeCheck(b, &got)
		msg := &authv3.CheckRequest{}
		if proto.Unmarshal(b, msg) != nil {
			return
		}
		if err != nil {
			t.Fatalf("valid request rejected: %v", err)
		}
		got.finish()
		want := fromCheck(msg)
		if got.method != want.method || got.path != want.path || got.query != want.query || got.host != want.host || got.id != want.id {
			t.Fatalf("decoded %q %q %q %q, message reads %q %q %q %q", got.method, got.path, got.query, got.host, want.method, want.path, want.query, want.host)
		}
		for _, n := range []string{"authorization", "cookie", ":authority", "x-request-id"} {
			gv, gok := got.header(n)
			wv, wok := want.header(n)
			if gv != wv || gok != wok {
				t.Fatalf("header %s: decoded %q, message %q", n, gv, wv)
			}
		}
	})
}
