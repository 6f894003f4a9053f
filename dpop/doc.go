// Package dpop verifies DPoP proofs (RFC 9449): the JWS a client sends in
// the DPoP header to show that it holds the private key an access token is
// bound to.
//
// A Checker holds one provider's rules (accepted algorithms, the proof's
// maximum age, the clock skew, the replay cache and, optionally, server
// nonces) and checks a proof against one request: its method and URI, the
// access token it is presented with, and the thumbprint the token is bound
// to. Each proof is accepted once: its jti is claimed in a ReplayCache,
// which replicas share when it is backed by Redis.
//
// The proof's header (typ, alg, jwk) is the same on every request of one
// client key, so the key it carries is decoded, checked and thumbprinted
// once and kept in a bounded cache; every request still verifies the
// proof's signature and claims.
package dpop
