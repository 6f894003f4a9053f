// Package session defines the store of refresh-token sessions used by the
// built-in issuer: one record per session (token family, named by its sid)
// holding the subject, the granted scope and claims, and the jti of the one
// refresh token that may currently be exchanged.
//
// The heart of the package is Store.Rotate, an atomic compare-and-swap of the
// current refresh jti with reuse detection: of any number of concurrent
// rotations presenting the same jti, on one process or on several replicas
// sharing a backend, exactly one rotates. The others either receive the
// winner's stored replay (inside the reuse grace window) or revoke the
// session.
//
// Backends live in sub-packages: memory (tests and development), bolt (the
// embedded default) and redis (several replicas). storetest holds the
// contract suite every backend passes. This package knows nothing about JWTs,
// HTTP or key material; the replay it stores is opaque bytes. Every Store is
// safe for concurrent use.
package session
