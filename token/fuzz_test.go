package token_test

import (
	"strings"
	"testing"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// FuzzVerify feeds arbitrary strings to Verify: it must never panic and
// never accept anything but a token signed by a known key.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f, nil)
	valid := testkit.Sign(f, fx.keys["ES256"], testkit.Claims(iss, "alice", "orders-api"), nil)
	f.Add(valid)
	// Other spellings of the valid token: padding, a line break, unused
	// bits set in the signature's last character.
	f.Add(valid + "=")
	f.Add(valid[:10] + "\n" + valid[10:])
	last := strings.IndexByte(alphabet, valid[len(valid)-1])
	f.Add(valid[:len(valid)-1] + string(alphabet[last^1]))
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	for _, u := range testkit.Unsigned(f, testkit.Claims(iss, "a", "orders-api")) {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		// Segments are canonical base64url, so no other spelling of the
		// valid token passes.
		if _, err := fx.v.Verify(t.Context(), raw); err == nil && raw != valid {
			t.Fatalf("accepted %q", raw)
		}
	})
}
