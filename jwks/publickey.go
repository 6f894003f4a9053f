package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Bounds on RSA keys. Moduli under 2048 bits are forgeable in practice.
// Larger moduli cost more on every verification (quadratically and worse):
// over 8192 bits a forged token would cost milliseconds of CPU per Check,
// a denial of service through any trusted JWKS. Exponents are odd, at
// least 3 (RFC 8017 section 3.1) and, as every verifier expects, at most
// 2^32; a larger one also multiplies the cost.
const (
	minRSABits     = 2048
	maxRSABits     = 8192
	maxRSAExponent = 1 << 32
)

// FromPublicKey builds a Key from a public key held in memory (for example
// the built-in issuer's own keys), checking it by the same rules as a key read
// from a JWKS and computing its RFC 7638 thumbprint. pub must be an
// *rsa.PublicKey (2048 to 8192 bits), an *ecdsa.PublicKey on P-256, P-384 or
// P-521, or an ed25519.PublicKey; private keys are refused. alg may be "" or
// a signature algorithm that fits the key type (RS256 or PS256 for RSA,
// ES256 for P-256, EdDSA for Ed25519, ...).
func FromPublicKey(kid string, alg string, pub crypto.PublicKey) (*Key, error) {
	checked, err := checkPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("build key %q: %w", kid, err)
	}
	if err := checkAlgorithm(alg, checked); err != nil {
		return nil, fmt.Errorf("build key %q: %w", kid, err)
	}
	tp, err := thumbprint(checked)
	if err != nil {
		return nil, fmt.Errorf("build key %q: %w", kid, err)
	}
	return &Key{ID: kid, Algorithm: alg, Public: checked, Thumbprint: tp}, nil
}

// checkPublicKey accepts only the public key types and sizes this package
// verifies with, and returns a copy the caller's later changes cannot reach.
func checkPublicKey(pub crypto.PublicKey) (crypto.PublicKey, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return nil, refuse(SkipMalformed, "empty RSA public key")
		}
		if err := checkRSA(k.N, big.NewInt(int64(k.E))); err != nil {
			return nil, err
		}
		return &rsa.PublicKey{N: newInt(k.N), E: k.E}, nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return nil, refuse(SkipMalformed, "empty EC public key")
		}
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return nil, refuse(SkipUnsupported, "EC curve %s is not supported", k.Curve.Params().Name)
		}
		// The round trip through the encoded point copies the key and
		// checks that the point lies on the curve and is not the point at
		// infinity: such a point must never reach signature verification.
		b, err := k.Bytes()
		if err != nil {
			return nil, refuse(SkipECPoint, "EC public key is not a point on %s", k.Curve.Params().Name)
		}
		cp, err := ecdsa.ParseUncompressedPublicKey(k.Curve, b)
		if err != nil {
			return nil, refuse(SkipECPoint, "EC public key is not a point on %s", k.Curve.Params().Name)
		}
		return cp, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, refuse(SkipMalformed, "Ed25519 public key of %d bytes", len(k))
		}
		if err := checkEd25519(k); err != nil {
			return nil, err
		}
		return ed25519.PublicKey(append([]byte(nil), k...)), nil
	case nil:
		return nil, refuse(SkipMalformed, "no public key")
	default:
		return nil, refuse(SkipUnsupported, "key type %T is not a supported public key", pub)
	}
}

// algorithmsByKey lists the JWS algorithms each kind of key can verify.
var algorithmsByKey = map[string][]string{
	"RSA":   {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"},
	"P-256": {"ES256"},
	"P-384": {"ES384"},
	"P-521": {"ES512"},
	// "Ed25519" is the fully specified name of RFC 9864.
	"Ed25519": {"EdDSA", "Ed25519"},
}

// keyKind names the algorithm family of a checked public key.
func keyKind(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	default:
		return ""
	}
}

// checkAlgorithm reports whether alg ("" for any) can be used with pub. A JWK
// whose "alg" names an encryption or MAC algorithm is not a verification key.
func checkAlgorithm(alg string, pub crypto.PublicKey) error {
	if alg == "" {
		return nil
	}
	kind := keyKind(pub)
	for _, a := range algorithmsByKey[kind] {
		if a == alg {
			return nil
		}
	}
	return refuse(SkipAlgMismatch, "algorithm %q does not fit a %s key", clip(alg), kind)
}

// thumbprint computes the RFC 7638 SHA-256 thumbprint from the key material
// itself, so that it is canonical even when a JWKS encodes "n" with leading
// zero bytes.
func thumbprint(pub crypto.PublicKey) (string, error) {
	k, err := jwk.FromRaw(pub)
	if err != nil {
		return "", fmt.Errorf("thumbprint: %w", err)
	}
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// newInt copies x so a Key never shares mutable big.Int state with the caller.
func newInt(x *big.Int) *big.Int { return new(big.Int).Set(x) }
