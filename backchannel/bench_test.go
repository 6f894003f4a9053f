package backchannel

import (
	"net/http"
	"testing"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// BenchmarkLogout is one accepted logout token through the handler:
// signature verification, validation and the (in-memory) effect. The
// replay cache accepts every jti so that one token can be reused.
func BenchmarkLogout(b *testing.B) {
	f := newFixture(b, func(o *Options) { o.Replay = testkit.NeverSeen{} })
	body := formBody(f.sign(b, f.claims()))
	b.ReportAllocs()
	for b.Loop() {
		if w := f.post(body); w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
		f.rev.reset()
	}
}

// BenchmarkLogoutRefused is what an unauthenticated caller can make the
// endpoint spend: a well-formed token with a bad signature.
func BenchmarkLogoutRefused(b *testing.B) {
	f := newFixture(b, nil)
	body := formBody(tamper(f.sign(b, f.claims())))
	b.ReportAllocs()
	for b.Loop() {
		if w := f.post(body); w.Code != http.StatusBadRequest {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}
