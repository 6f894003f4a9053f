package jwks

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/oasisprotocol/curve25519-voi/curve"
)

// Reasons a JWK of a fetched set is skipped: the values of the "reason"
// label of jwt_authz_jwks_keys_skipped_total and of SkippedKey.Reason.
const (
	// SkipMalformed: the JWK cannot be decoded.
	SkipMalformed = "malformed"
	// SkipUnsupported: a key type or curve this package does not verify
	// with, including symmetric ("oct") keys.
	SkipUnsupported = "unsupported"
	// SkipNotForSigning: "use" other than "sig", or "key_ops" without
	// "verify".
	SkipNotForSigning = "not_for_signing"
	// SkipAlgMismatch: the JWK's "alg" does not fit its key.
	SkipAlgMismatch = "alg_mismatch"
	// SkipDuplicate: a kid or key already in the set.
	SkipDuplicate = "duplicate"
	// SkipRSAModulus: an RSA modulus under 2048 or over 8192 bits, or even.
	SkipRSAModulus = "rsa_modulus"
	// SkipRSAExponent: an RSA exponent that is even, under 3 or over 2^32.
	SkipRSAExponent = "rsa_exponent"
	// SkipECPoint: an EC point not on its curve, or the point at infinity.
	SkipECPoint = "ec_point"
	// SkipEd25519SmallOrder: an Ed25519 point of small order (one of the
	// eight torsion points), for which signatures prove nothing.
	SkipEd25519SmallOrder = "ed25519_small_order"
	// SkipEd25519Encoding: 32 bytes that are not the canonical encoding of
	// a point on the curve.
	SkipEd25519Encoding = "ed25519_encoding"
)

// SkipReasons lists every reason a key is skipped, in a stable order.
var SkipReasons = []string{
	SkipMalformed, SkipUnsupported, SkipNotForSigning, SkipAlgMismatch, SkipDuplicate,
	SkipRSAModulus, SkipRSAExponent, SkipECPoint, SkipEd25519SmallOrder, SkipEd25519Encoding,
}

// SkippedKey is a JWK of the provider's last parsed set that is not used.
type SkippedKey struct {
	// KID is the JWK's "kid" ("" when absent or unreadable).
	KID string
	// Index is the JWK's position in the "keys" array.
	Index int
	// Reason is one of SkipReasons.
	Reason string
	// Detail says what exactly is wrong, for people.
	Detail string
}

// ErrNoUsableKeys is wrapped by the fetch error of a JWKS document none of
// whose keys can be used; the keys of the previous document, if any, keep
// serving.
var ErrNoUsableKeys = errors.New("no usable keys")

// keyError is why a JWK is not used, with its closed reason.
type keyError struct {
	reason string
	err    error
}

func (e *keyError) Error() string { return e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

// refuse returns a keyError for reason with a formatted message.
func refuse(reason, format string, args ...any) error {
	return &keyError{reason: reason, err: fmt.Errorf(format, args...)}
}

// reasonOf is the closed reason of an error about one key; an error without
// one is SkipMalformed.
func reasonOf(err error) string {
	var ke *keyError
	if errors.As(err, &ke) {
		return ke.reason
	}
	return SkipMalformed
}

// checkRSA applies the bounds on RSA moduli and exponents. e is a big.Int
// because a JWK's "e" may be longer than any machine integer.
func checkRSA(n, e *big.Int) error {
	if bits := n.BitLen(); bits < minRSABits || bits > maxRSABits {
		return refuse(SkipRSAModulus, "RSA modulus of %d bits outside %d..%d", bits, minRSABits, maxRSABits)
	}
	if n.Bit(0) == 0 {
		return refuse(SkipRSAModulus, "RSA modulus is even")
	}
	switch {
	case e.BitLen() > 33 || e.Cmp(big.NewInt(maxRSAExponent)) > 0:
		return refuse(SkipRSAExponent, "RSA public exponent of %d bits is over 2^32", e.BitLen())
	case e.Sign() <= 0 || e.Cmp(big.NewInt(3)) < 0:
		return refuse(SkipRSAExponent, "RSA public exponent %s is under 3", e)
	case e.Bit(0) == 0:
		return refuse(SkipRSAExponent, "RSA public exponent %s is even", e)
	}
	return nil
}

// checkEd25519 accepts only the canonical encoding of a point on the curve
// that is not of small order. Libraries differ on non-canonical encodings
// (one key, several spellings, not every verifier agreeing), and a
// small-order key lets one signature verify for many messages.
func checkEd25519(pub []byte) error {
	var c curve.CompressedEdwardsY
	if _, err := c.SetBytes(pub); err != nil {
		return refuse(SkipMalformed, "Ed25519 public key of %d bytes", len(pub))
	}
	var p curve.EdwardsPoint
	if _, err := p.SetCompressedY(&c); err != nil {
		return refuse(SkipEd25519Encoding, "Ed25519 public key is not a point on the curve")
	}
	if !c.IsCanonicalVartime() {
		return refuse(SkipEd25519Encoding, "Ed25519 public key is not canonically encoded")
	}
	if p.IsSmallOrder() {
		return refuse(SkipEd25519SmallOrder, "Ed25519 public key is of small order")
	}
	return nil
}
