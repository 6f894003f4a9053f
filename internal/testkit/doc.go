// Package testkit holds what the tests of several packages share: it
// generates keys, JWKS documents and tokens, including hostile ones (alg
// none, HMAC with a public key as secret, jku/jwk/x5u headers, zero ECDSA
// signatures), and provides a settable Clock, a LogBuffer that collects
// logs from several goroutines, an OTLP/HTTP trace receiver, a replay
// cache that takes every id as new, and Eventually for polling. Only
// tests import it, and it imports no package of this module.
package testkit
