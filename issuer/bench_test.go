package issuer

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// BenchmarkRefreshGrant measures one refresh through the token endpoint:
// form parsing, verifying the refresh token, reading the session, signing
// the new pair and the store's compare-and-swap.
func BenchmarkRefreshGrant(b *testing.B) {
	for _, name := range []string{"memory", "bolt", "redis"} {
		b.Run(name, func(b *testing.B) {
			e := newEnv(b, envConfig{store: backends[name](b), clock: testkit.NewClock(time.Now())})
			rt := e.mint(b, "alice", "read write", map[string]any{"email": "alice@example.com"}).RefreshToken
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rec := e.refresh(rt)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				var resp TokenResponse
				if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
					b.Fatal(err)
				}
				rt = resp.RefreshToken
			}
		})
	}
}

// BenchmarkMint measures creating a session and its first pair, per
// algorithm, on the memory store.
func BenchmarkMint(b *testing.B) {
	for _, alg := range []string{AlgEdDSA, AlgES256, AlgRS256} {
		b.Run(alg, func(b *testing.B) {
			e := newEnv(b, envConfig{keys: testKeys(b, alg)})
			req := MintRequest{Subject: "alice", Scope: "read"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.iss.Mint(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyRefreshToken measures verifying and validating a refresh
// token against the issuer's keys.
func BenchmarkVerifyRefreshToken(b *testing.B) {
	e := newEnv(b, envConfig{})
	rt := e.mint(b, "alice", "", nil).RefreshToken
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.iss.verifyOwn(b.Context(), rt, typRefresh, false); err != nil {
			b.Fatal(err)
		}
	}
}
