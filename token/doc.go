// Package token verifies the signature of a compact JWS token and validates
// its claims (issuer, audience, expiry, not-before, lifetime, typ).
//
// "Verify" always means the signature, "validate" the claims. The package
// knows nothing of Envoy, gRPC or HTTP: keys come from a KeySource (which
// the jwks package satisfies), time from an injected clock. A Verifier is
// immutable once built and safe for concurrent use; a configuration reload
// builds a new one.
//
// Security choices: the algorithm allow-list is per provider and never
// includes "none" or HMAC algorithms; jku, x5u, jwk and x5c header
// parameters are never read; any "crit" header rejects the token, because
// no extension is understood; a key is used only with an algorithm that
// fits its type and curve.
package token
