package config

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParse measures a reload of the full example configuration.
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "valid-full.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "valid-full.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	c, err := Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProviderFingerprint runs once per provider on every reload.
func BenchmarkProviderFingerprint(b *testing.B) {
	p := Provider{
		Name:          "corp",
		Issuer:        "https://idp.example.com/",
		Audiences:     []string{"orders-api", "billing-api"},
		JWKSURI:       "https://idp.example.com/.well-known/jwks.json",
		ForwardClaims: map[string]string{"sub": "x-jwt-sub", "email": "x-jwt-email"},
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = ProviderFingerprint(p)
	}
}
