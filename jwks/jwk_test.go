package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// TestThumbprintMatchesJWX holds Thumbprint to a JOSE library's RFC 7638
// thumbprint for every kind of key.
func TestThumbprintMatchesJWX(t *testing.T) {
	keys := map[string]crypto.PublicKey{
		"rsa":     &testRSAKey().PublicKey,
		"p256":    &ecKey(t, "jwx").PublicKey,
		"ed25519": edKey().Public(),
	}
	for _, c := range []elliptic.Curve{elliptic.P384(), elliptic.P521()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[c.Params().Name] = &k.PublicKey
	}
	for name, pub := range keys {
		t.Run(name, func(t *testing.T) {
			got, err := Thumbprint(pub)
			if err != nil {
				t.Fatal(err)
			}
			k, err := jwk.FromRaw(pub)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := k.Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if want := base64.RawURLEncoding.EncodeToString(sum); got != want {
				t.Fatalf("thumbprint %s, jwx %s", got, want)
			}
		})
	}
}

// TestParseKeyReasons: what is wrong with a JWK decides why it is skipped.
func TestParseKeyReasons(t *testing.T) {
	good := ecJWK(t, "reasons", "k")
	with := func(name string, v any) map[string]any {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		if v == nil {
			delete(m, name)
		} else {
			m[name] = v
		}
		return m
	}
	tests := map[string]struct {
		jwk    map[string]any
		reason string
	}{
		"no kty":             {with("kty", nil), SkipUnsupported},
		"kty not a string":   {with("kty", 1), SkipMalformed},
		"kid not a string":   {with("kid", 1), SkipMalformed},
		"use not a string":   {with("use", true), SkipMalformed},
		"key_ops not a list": {with("key_ops", "verify"), SkipMalformed},
		"alg not a string":   {with("alg", 256), SkipMalformed},
		"no crv":             {with("crv", nil), SkipMalformed},
		"no x":               {with("x", nil), SkipMalformed},
		"y not base64url":    {with("y", "*not*"), SkipMalformed},
		"P-224":              {with("crv", "P-224"), SkipUnsupported},
		"secp256k1":          {with("crv", "secp256k1"), SkipUnsupported},
		"unknown alg":        {with("alg", "XX999"), SkipAlgMismatch},
		"use enc":            {with("use", "enc"), SkipNotForSigning},
		"rsa without e":      {map[string]any{"kty": "RSA", "n": b64int(testRSAKey().N)}, SkipMalformed},
		"Ed448":              {map[string]any{"kty": "OKP", "crv": "Ed448", "x": "AA"}, SkipUnsupported},
		"ed25519 of 31 bytes": {map[string]any{"kty": "OKP", "crv": "Ed25519",
			"x": base64.RawURLEncoding.EncodeToString(make([]byte, 31))}, SkipMalformed},
		"oct": {map[string]any{"kty": "oct", "k": "AA"}, SkipUnsupported},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			raw, err := json.Marshal(tt.jwk)
			if err != nil {
				t.Fatal(err)
			}
			k, _, err := parseKey(raw)
			if err == nil {
				t.Fatalf("key %+v kept", k)
			}
			if got := reasonOf(err); got != tt.reason {
				t.Fatalf("reason %s (%v), want %s", got, err, tt.reason)
			}
		})
	}
	raw, err := json.Marshal(good)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := parseKey(raw); err != nil {
		t.Fatalf("the unchanged key: %v", err)
	}
}

// TestParseKeyTolerantBase64: padding and the standard alphabet are
// accepted, as JOSE libraries accept them.
func TestParseKeyTolerantBase64(t *testing.T) {
	ec := ecKey(t, "b64")
	want, err := Thumbprint(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	std := base64.StdEncoding.EncodeToString
	raw, err := json.Marshal(map[string]any{"kty": "EC", "crv": "P-256",
		"x": std(ec.X.FillBytes(make([]byte, 32))), "y": std(ec.Y.FillBytes(make([]byte, 32)))})
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := parseKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	if k.Thumbprint != want {
		t.Fatalf("thumbprint %s, want %s", k.Thumbprint, want)
	}
}
