package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"testing"
)

func TestFromPublicKey(t *testing.T) {
	rsaPub := &testRSAKey().PublicKey
	ec := ecKey(t, "frompub")
	ed := edKey().Public().(ed25519.PublicKey)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	offCurve := &ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)}

	tests := []struct {
		name    string
		alg     string
		pub     any
		wantErr bool
	}{
		{name: "rsa any alg", pub: rsaPub},
		{name: "rsa RS256", alg: "RS256", pub: rsaPub},
		{name: "rsa PS512", alg: "PS512", pub: rsaPub},
		{name: "rsa ES256", alg: "ES256", pub: rsaPub, wantErr: true},
		{name: "rsa HS256", alg: "HS256", pub: rsaPub, wantErr: true},
		{name: "rsa 1024 bits", pub: &testSmallRSA().PublicKey, wantErr: true},
		{name: "rsa private key", pub: testRSAKey(), wantErr: true},
		{name: "rsa without modulus", pub: &rsa.PublicKey{E: 65537}, wantErr: true},
		{name: "p256 ES256", alg: "ES256", pub: &ec.PublicKey},
		{name: "p256 ES384", alg: "ES384", pub: &ec.PublicKey, wantErr: true},
		{name: "p384 ES384", alg: "ES384", pub: &p384.PublicKey},
		{name: "p224", pub: &p224.PublicKey, wantErr: true},
		{name: "point off the curve", pub: offCurve, wantErr: true},
		{name: "ecdsa value instead of pointer", pub: ec.PublicKey, wantErr: true},
		{name: "ed25519 EdDSA", alg: "EdDSA", pub: ed},
		{name: "ed25519 Ed25519", alg: "Ed25519", pub: ed},
		{name: "ed25519 RS256", alg: "RS256", pub: ed, wantErr: true},
		{name: "ed25519 short", pub: ed[:31], wantErr: true},
		{name: "ed25519 private key", pub: edKey(), wantErr: true},
		{name: "nil", pub: nil, wantErr: true},
		{name: "nil rsa pointer", pub: (*rsa.PublicKey)(nil), wantErr: true},
		{name: "bytes", pub: []byte("secret"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := FromPublicKey("kid-1", tt.alg, tt.pub)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("FromPublicKey accepted %T", tt.pub)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromPublicKey: %v", err)
			}
			if k.ID != "kid-1" || k.Algorithm != tt.alg {
				t.Fatalf("key = %q/%q", k.ID, k.Algorithm)
			}
			checkUsable(t, k)
		})
	}
}

// A key built in memory and the same key read from a JWKS must be the same
// key, so the built-in issuer's keys and fetched ones compare alike.
func TestFromPublicKeyMatchesParseSet(t *testing.T) {
	tests := map[string]any{
		"rsa":     &testRSAKey().PublicKey,
		"ec":      &ecKey(t, "match").PublicKey,
		"ed25519": edKey().Public(),
	}
	for name, pub := range tests {
		t.Run(name, func(t *testing.T) {
			built, err := FromPublicKey("k", "", pub)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := ParseSet(setJSON(t, jwkMap(t, pub, "k", "", nil)))
			if err != nil {
				t.Fatal(err)
			}
			if parsed[0].Thumbprint != built.Thumbprint {
				t.Fatalf("thumbprints differ: %s vs %s", parsed[0].Thumbprint, built.Thumbprint)
			}
			type equaler interface{ Equal(x crypto.PublicKey) bool }
			if !built.Public.(equaler).Equal(parsed[0].Public) {
				t.Fatal("public keys differ")
			}
		})
	}
}

func TestFromPublicKeyCopiesTheKey(t *testing.T) {
	orig := testRSAKey().PublicKey
	pub := &rsa.PublicKey{N: new(big.Int).Set(orig.N), E: orig.E}
	k, err := FromPublicKey("k", "RS256", pub)
	if err != nil {
		t.Fatal(err)
	}
	pub.N.SetInt64(3)
	if k.Public.(*rsa.PublicKey).N.Cmp(orig.N) != 0 {
		t.Fatal("Key shares the caller's modulus")
	}
}

// The thumbprint follows RFC 7638 section 3: SHA-256 over the required
// members in lexicographic order, without whitespace.
func TestThumbprintByHand(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	ec := ecKey(t, "thumbprint")
	ed := edKey().Public().(ed25519.PublicKey)
	tests := map[string]struct {
		pub       any
		canonical string
	}{
		"ed25519": {pub: ed, canonical: `{"crv":"Ed25519","kty":"OKP","x":"` + b64(ed) + `"}`},
		"p256": {pub: &ec.PublicKey, canonical: `{"crv":"P-256","kty":"EC","x":"` + b64(ec.X.FillBytes(make([]byte, 32))) +
			`","y":"` + b64(ec.Y.FillBytes(make([]byte, 32))) + `"}`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			k, err := FromPublicKey("", "", tt.pub)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(tt.canonical))
			if want := b64(sum[:]); k.Thumbprint != want {
				t.Fatalf("thumbprint %s, want %s", k.Thumbprint, want)
			}
		})
	}
}
