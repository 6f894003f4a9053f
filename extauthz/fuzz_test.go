package extauthz

import (
	"testing"

	"google.golang.org/genproto/googleapis/rpc/code"
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
