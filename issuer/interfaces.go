package issuer

import (
	"context"
	"errors"
)

// RevocationChecker tells whether a token is covered by a revocation: its
// jti, its session, or a cut-off of its subject (iat at or before it), as
// the authorization check decides it.
type RevocationChecker interface {
	// Revoked returns true when a revocation covers the token, and an
	// error when that cannot be known now (the store is unavailable).
	Revoked(jti, sid, sub string, iat int64) (bool, error)
}

// SessionRevoker records the revocation of a whole session so that the
// authorization check denies every access token carrying its sid. The lead
// implementation writes a "sid" entry to the revocation store.
type SessionRevoker interface {
	// RevokeSession records the revocation of sid durably and returns nil
	// only once it is recorded. It may be called more than once for a sid.
	RevokeSession(ctx context.Context, sid string) error
}

// ExchangeValidator fully validates a subject token presented for token
// exchange (RFC 8693): signature, claims and revocation, against every
// configured provider.
type ExchangeValidator interface {
	// ValidateExchange returns the name of the provider that issued raw and
	// its claims. Any error means the token is not acceptable; an error
	// wrapping ErrTemporarilyUnavailable means it could not be decided for
	// reasons that are not the client's fault (keys or revocation store
	// unavailable), and the client is told to retry.
	ValidateExchange(ctx context.Context, raw string) (provider string, claims map[string]any, err error)
}

// Introspector decides whether a token would be accepted by the
// authorization check (any provider, revocation included).
type Introspector interface {
	// Introspect returns the claims of raw when it would be accepted (nil
	// error) and an error otherwise.
	Introspect(ctx context.Context, raw string) (claims map[string]any, err error)
}

// Errors callers branch on with errors.Is.
var (
	// ErrInvalidRequest wraps the rejection of a malformed MintRequest
	// (empty subject, bad scope, reserved or oversized claims). Callers
	// answer 400.
	ErrInvalidRequest = errors.New("issuer: invalid request")
	// ErrTemporarilyUnavailable is wrapped by an ExchangeValidator (and
	// returned by Mint) when a dependency is unavailable; callers answer 503.
	ErrTemporarilyUnavailable = errors.New("issuer: temporarily unavailable")
)
