package extauthz

import (
	"testing"

	"github.com/jwt-authz/jwt-authz/cache"
)

// BenchmarkCheckParts splits a cached Check into its steps.
func BenchmarkCheckParts(b *testing.B) {
	be := newBenchEnv(b, 1000, nil)
	tok := be.sign(b, "ES256", nil)
	req := envoyRequest(b, tok)
	c := getCall()
	b.Run("decode_request", func(b *testing.B) {
		for b.Loop() {
			c.r = request{headers: c.r.headers[:0], headerMap: c.r.headerMap[:0]}
			if err := decodeCheck(req, &c.r); err != nil {
				b.Fatal(err)
			}
			c.r.finish()
		}
	})
	pol := be.srv.Policy()
	b.Run("precheck_and_key", func(b *testing.B) {
		for b.Loop() {
			if pol.verifier.Precheck(tok) != nil {
				b.Fatal("precheck")
			}
			_ = cache.KeyOf(tok)
		}
	})
	sc := getScratch()
	var cv claimsView
	b.Run("read_claims", func(b *testing.B) {
		for b.Loop() {
			if err := sc.readClaims(tok, nil, &cv); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append_struct", func(b *testing.B) {
		for b.Loop() {
			sc.structPB = cv.root.AppendStruct(sc.structPB[:0])
		}
	})
	var st *providerState
	for _, s := range pol.providers {
		st = s
	}
	buf := make([]byte, 0, 4096)
	b.Run("append_ok", func(b *testing.B) {
		for b.Loop() {
			sc.upstream = st.ok.upstream(sc.upstream[:0], &cv)
			buf = st.ok.appendOK(buf[:0], sc.upstream, sc.structPB)
		}
	})
}
