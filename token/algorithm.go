package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"math/big"

	"github.com/jwt-authz/jwt-authz/jwks"

	// Register the hash implementations the algorithms below use.
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// Algorithm is a JWS signature algorithm this package can verify.
type Algorithm uint8

// The asymmetric JWS algorithms of RFC 7518 and RFC 8037. HMAC and "none"
// are deliberately absent: they can never be accepted from a JWKS.
const (
	algInvalid Algorithm = iota
	RS256
	RS384
	RS512
	PS256
	PS384
	PS512
	ES256
	ES384
	ES512
	EdDSA
)

var algNames = [...]string{"", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// DefaultAlgorithms is the allow-list a provider gets when none is configured.
var DefaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// String returns the JOSE name of the algorithm.
func (a Algorithm) String() string {
	if int(a) < len(algNames) {
		return algNames[a]
	}
	return ""
}

// ParseAlgorithm returns the Algorithm for a JOSE name, or false when the
// name is not an asymmetric signature algorithm this package verifies.
func ParseAlgorithm(name string) (Algorithm, bool) {
	switch name {
	case "RS256":
		return RS256, true
	case "RS384":
		return RS384, true
	case "RS512":
		return RS512, true
	case "PS256":
		return PS256, true
	case "PS384":
		return PS384, true
	case "PS512":
		return PS512, true
	case "ES256":
		return ES256, true
	case "ES384":
		return ES384, true
	case "ES512":
		return ES512, true
	case "EdDSA":
		return EdDSA, true
	}
	return algInvalid, false
}

// AlgorithmSet is a set of allowed algorithms, one bit each.
type AlgorithmSet uint16

// NewAlgorithmSet builds a set from JOSE names; unknown names are reported.
func NewAlgorithmSet(names []string) (AlgorithmSet, error) {
	var s AlgorithmSet
	for _, n := range names {
		a, ok := ParseAlgorithm(n)
		if !ok {
			return 0, &unsupportedAlgError{name: n}
		}
		s |= 1 << a
	}
	return s, nil
}

// Has reports whether a is in the set.
func (s AlgorithmSet) Has(a Algorithm) bool { return s&(1<<a) != 0 }

type unsupportedAlgError struct{ name string }

func (e *unsupportedAlgError) Error() string { return "unsupported algorithm " + e.name }
func (e *unsupportedAlgError) Unwrap() error { return ErrUnsupportedAlg }

func (a Algorithm) hash() crypto.Hash {
	switch a {
	case RS256, PS256, ES256:
		return crypto.SHA256
	case RS384, PS384, ES384:
		return crypto.SHA384
	case RS512, PS512, ES512:
		return crypto.SHA512
	}
	return 0
}

// fits reports whether key is of the type and curve a requires.
func (a Algorithm) fits(key crypto.PublicKey) bool {
	switch a {
	case RS256, RS384, RS512, PS256, PS384, PS512:
		_, ok := key.(*rsa.PublicKey)
		return ok
	case ES256, ES384, ES512:
		k, ok := key.(*ecdsa.PublicKey)
		return ok && k.Curve == a.curve()
	case EdDSA:
		k, ok := key.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize
	}
	return false
}

func (a Algorithm) curve() elliptic.Curve {
	switch a {
	case ES256:
		return elliptic.P256()
	case ES384:
		return elliptic.P384()
	case ES512:
		return elliptic.P521()
	}
	return nil
}

// verifyKey checks sig over input with a JWKS key; the caller has checked
// a.fits(key.Public). RS256/384/512 use the key's prepared modulus and
// EdDSA its expanded point when it has one.
func (a Algorithm) verifyKey(key *jwks.Key, input, sig []byte) bool {
	switch a {
	case RS256, RS384, RS512:
		if n := key.RSAModulus(); n != nil {
			h := a.hash()
			hh := h.New()
			hh.Write(input)
			var sum [64]byte
			return verifyPKCS1v15(n, key.Public.(*rsa.PublicKey).E, h, hh.Sum(sum[:0]), sig)
		}
	case EdDSA:
		if pub := key.Ed25519Expanded(); pub != nil {
			return verifyEd25519(pub, input, sig)
		}
	}
	return a.verify(key.Public, input, sig)
}

// verify checks sig over input with key; the caller has checked a.fits(key).
func (a Algorithm) verify(key crypto.PublicKey, input, sig []byte) bool {
	if a == EdDSA {
		return ed25519.Verify(key.(ed25519.PublicKey), input, sig)
	}
	h := a.hash()
	hh := h.New()
	hh.Write(input)
	var sum [64]byte
	digest := hh.Sum(sum[:0])
	switch a {
	case RS256, RS384, RS512:
		return rsa.VerifyPKCS1v15(key.(*rsa.PublicKey), h, digest, sig) == nil
	case PS256, PS384, PS512:
		// RFC 7518 §3.5: the salt is as long as the hash.
		opts := rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
		return rsa.VerifyPSS(key.(*rsa.PublicKey), h, digest, sig, &opts) == nil
	case ES256, ES384, ES512:
		k := key.(*ecdsa.PublicKey)
		size := (k.Curve.Params().BitSize + 7) / 8
		// JWS ECDSA signatures are the fixed-size concatenation r||s; a zero
		// r or s is rejected by ecdsa.Verify.
		if len(sig) != 2*size {
			return false
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k, digest, r, s)
	}
	return false
}
