package token

import (
	"encoding/base64"
	"testing"
)

// BenchmarkParse is the non-cryptographic part of a verification: split,
// decode header and claims once.
func BenchmarkParse(b *testing.B) {
	enc := base64.RawURLEncoding.EncodeToString
	raw := enc([]byte(`{"alg":"ES256","kid":"k-ES256","typ":"JWT"}`)) + "." +
		enc([]byte(`{"iss":"https://idp.example.com/","sub":"alice","aud":"orders-api","exp":1900000000,"iat":1700000000,"jti":"9d0b6a3c-2f63-4a5e-9f4e-6d1f0b2c7e11","scope":"read write","realm_access":{"roles":["admin","dev"]},"email":"alice@example.com"}`)) +
		".c2lnbmF0dXJl"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
