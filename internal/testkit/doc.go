// Package testkit generates keys, JWKS documents and tokens for tests,
// including hostile ones (alg none, HMAC with a public key as secret,
// jku/jwk/x5u headers, zero ECDSA signatures). Only tests import it.
package testkit
