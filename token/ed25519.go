package token

import (
	voied25519 "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// ed25519StdLib selects crypto/ed25519's verification rules: the
// cofactorless equation compared byte for byte with R, S below the group
// order, small-order and non-canonically encoded A accepted.
var ed25519StdLib = &voied25519.Options{Verify: voied25519.VerifyOptionsStdLib}

// verifyEd25519 is Ed25519 verification (RFC 8032 §5.1.7) with a public key
// decompressed and expanded once per key (jwks.Key.Ed25519Expanded), under
// crypto/ed25519's rules. TestEd25519VerifyMatchesStdlib (over the public
// edge-case vectors in testdata/ed25519) and FuzzEd25519Verify hold it to
// crypto/ed25519's answers. The options are fixed and valid, so the call
// cannot panic.
func verifyEd25519(pub *voied25519.ExpandedPublicKey, input, sig []byte) bool {
	return voied25519.VerifyExpandedWithOptions(pub, input, sig, ed25519StdLib)
}
