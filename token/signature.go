package token

import "github.com/jwt-authz/jwt-authz/jwks"

// VerifySignature reports whether sig is a valid JWS signature of input
// by key with alg, as a token's signature is checked: the key must be of
// the type and curve alg requires, and the key's own "alg", when set,
// must be alg. It serves other JWS a request carries (a DPoP proof) with
// the same verification code as tokens.
func VerifySignature(alg Algorithm, key *jwks.Key, input, sig []byte) bool {
	if alg == algInvalid || key == nil || (key.Algorithm != "" && key.Algorithm != alg.String()) {
		return false
	}
	return alg.fits(key.Public) && alg.verifyKey(key, input, sig)
}
