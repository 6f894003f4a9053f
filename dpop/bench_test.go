package dpop

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/jwt-authz/jwt-authz/internal/proctune"
	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// perCPUSecond runs body b.N times and reports how many runs the process
// did per CPU-second (ops/cpu-s): on a shared machine, CPU time is steadier
// than wall time.
func perCPUSecond(b *testing.B, body func()) {
	b.ReportAllocs()
	cpu0, ok := proctune.CPUTime()
	n := 0
	for b.Loop() {
		body()
		n++
	}
	if cpu1, ok1 := proctune.CPUTime(); ok && ok1 && cpu1 > cpu0 {
		b.ReportMetric(float64(n)/(cpu1-cpu0).Seconds(), "ops/cpu-s")
	}
}

// BenchmarkCheck is the cost of one proof at the resource server: header
// from the cache, signature, claims, htu, ath.
func BenchmarkCheck(b *testing.B) {
	for _, alg := range []string{"ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			key := testkit.NewKey(b, alg, "")
			now := time.Now()
			c := newChecker(b, Config{Replay: testkit.NeverSeen{}})
			uri := "https://api.example.com/orders"
			proof := testkit.DPoPProof(b, key, testkit.DPoPClaims("GET", uri, "a.b.c", now), nil)
			req := Request{Method: "GET", URI: uri, AccessToken: "a.b.c", JKT: key.JKT(b)}
			perCPUSecond(b, func() {
				if _, err := c.Check(context.Background(), proof, req, now); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkJWXVerify is what the signature check alone costs through
// jwx (the JWK parsed from the header, jws.Verify), for comparison with
// BenchmarkCheck, which does the whole check through the token package's
// verification and a cached header.
func BenchmarkJWXVerify(b *testing.B) {
	for _, alg := range []string{"ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			key := testkit.NewKey(b, alg, "")
			proof := testkit.DPoPProof(b, key, testkit.DPoPClaims("GET", "https://api.example.com/orders", "a.b.c", time.Now()), nil)
			perCPUSecond(b, func() {
				msg, err := jws.Parse([]byte(proof))
				if err != nil {
					b.Fatal(err)
				}
				hdr := msg.Signatures()[0].ProtectedHeaders()
				raw, _ := json.Marshal(hdr.JWK())
				k, err := jwk.ParseKey(raw)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := jws.Verify([]byte(proof), jws.WithKey(jwa.SignatureAlgorithm(alg), k)); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkCheckUncachedHeader is a proof whose header was never seen:
// the JWK decoded and checked, then the checks of BenchmarkCheck.
func BenchmarkCheckUncachedHeader(b *testing.B) {
	key := testkit.NewKey(b, "ES256", "")
	now := time.Now()
	uri := "https://api.example.com/orders"
	proof := testkit.DPoPProof(b, key, testkit.DPoPClaims("GET", uri, "", now), nil)
	req := Request{Method: "GET", URI: uri}
	c := newChecker(b, Config{Replay: testkit.NeverSeen{}})
	perCPUSecond(b, func() {
		c.keys.Purge()
		if _, err := c.Check(context.Background(), strings.Clone(proof), req, now); err != nil {
			b.Fatal(err)
		}
	})
}
