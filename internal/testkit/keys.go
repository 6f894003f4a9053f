package testkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Key is a generated signing key with its JOSE algorithm and key id.
type Key struct {
	Alg     string
	KID     string
	Private crypto.Signer
}

// Public returns the public half.
func (k *Key) Public() crypto.PublicKey { return k.Private.Public() }

// NewKey generates a key for alg ("RS256", "PS384", "ES256", "EdDSA", ...).
// RSA keys are 2048 bits.
func NewKey(t testing.TB, alg, kid string) *Key {
	t.Helper()
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("testkit: no key type for %s", alg)
	}
	if err != nil {
		t.Fatalf("testkit: generate %s key: %v", alg, err)
	}
	return &Key{Alg: alg, KID: kid, Private: priv}
}

// JWK returns the public JWK of k as a JSON object (with kid, alg, use).
func (k *Key) JWK(t testing.TB) map[string]any {
	t.Helper()
	jk, err := jwk.FromRaw(k.Public())
	if err != nil {
		t.Fatalf("testkit: jwk: %v", err)
	}
	if k.KID != "" {
		_ = jk.Set(jwk.KeyIDKey, k.KID)
	}
	_ = jk.Set(jwk.AlgorithmKey, k.Alg)
	_ = jk.Set(jwk.KeyUsageKey, "sig")
	b, err := json.Marshal(jk)
	if err != nil {
		t.Fatalf("testkit: marshal jwk: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// JWKS returns a JWKS document with the public keys.
func JWKS(t testing.TB, keys ...*Key) []byte {
	t.Helper()
	set := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		set = append(set, k.JWK(t))
	}
	b, err := json.Marshal(map[string]any{"keys": set})
	if err != nil {
		t.Fatal(fmt.Errorf("testkit: marshal jwks: %w", err))
	}
	return b
}
