package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// BenchmarkVerify measures signature verification plus claim validation
// per algorithm; BenchmarkRawVerify is the bare crypto/* verify of the same
// token, the floor Verify is compared with.
func BenchmarkVerify(b *testing.B) {
	fx := newFixture(b, nil)
	for _, alg := range []string{"RS256", "PS256", "ES256", "EdDSA"} {
		raw := testkit.Sign(b, fx.keys[alg], testkit.Claims(iss, "alice", "orders-api"), nil)
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			ctx := b.Context()
			for b.Loop() {
				if _, err := fx.v.Verify(ctx, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRawVerify(b *testing.B) {
	fx := newFixture(b, nil)
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		k := fx.keys[alg]
		raw := testkit.Sign(b, k, testkit.Claims(iss, "alice", "orders-api"), nil)
		i := strings.LastIndexByte(raw, '.')
		input := []byte(raw[:i])
		sig, _ := base64.RawURLEncoding.DecodeString(raw[i+1:])
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ok := false
				switch pub := k.Public().(type) {
				case *rsa.PublicKey:
					d := sha256.Sum256(input)
					ok = rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig) == nil
				case *ecdsa.PublicKey:
					d := sha256.Sum256(input)
					ok = ecdsa.Verify(pub, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
				case ed25519.PublicKey:
					ok = ed25519.Verify(pub, input, sig)
				}
				if !ok {
					b.Fatal("raw verify failed")
				}
			}
		})
	}
}

func BenchmarkVerifyReject(b *testing.B) {
	fx := newFixture(b, nil)
	cases := map[string]string{
		"garbage":     "not-a-token",
		"unknown_kid": testkit.Sign(b, fx.keys["ES256"], testkit.Claims(iss, "a", "orders-api"), map[string]any{"kid": "nope"}),
		"oversize":    strings.Repeat("x", 9000),
	}
	for name, raw := range cases {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := b.Context()
			for b.Loop() {
				if _, err := fx.v.Verify(ctx, raw); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}
