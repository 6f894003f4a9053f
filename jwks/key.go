package jwks

import (
	"crypto"
	"errors"
	"sync/atomic"
)

// Errors returned by a key source. Callers branch on them with errors.Is.
var (
	// ErrUnknownKey means no usable key has the requested kid, even after the
	// rate-limited refetch an unknown kid may trigger.
	ErrUnknownKey = errors.New("jwks: unknown key id")
	// ErrUnavailable means the provider has never loaded keys, or its last
	// good set is older than jwks_max_stale.
	ErrUnavailable = errors.New("jwks: keys unavailable")
)

// Key is one verification key of a provider, decoded once when its JWKS is
// loaded. A Key is immutable except for its removed flag, which is set when
// the key leaves its provider's key set, so that results verified with it
// (for example cached tokens) can be discarded.
type Key struct {
	// ID is the JWK "kid" ("" when the JWK has none).
	ID string
	// Algorithm is the JWK "alg", "" when absent. When set, a token must use
	// exactly this algorithm with the key.
	Algorithm string
	// Public is *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey.
	Public crypto.PublicKey
	// Thumbprint is the RFC 7638 SHA-256 thumbprint, base64url; two keys with
	// the same ID and Thumbprint are the same key across refreshes.
	Thumbprint string

	removed atomic.Bool
	rsa     rsaPrepared
	ed25519 ed25519Prepared
}

// Removed reports whether the key has left its provider's key set.
func (k *Key) Removed() bool { return k.removed.Load() }

// MarkRemoved records that the key has left its provider's key set.
func (k *Key) MarkRemoved() { k.removed.Store(true) }
