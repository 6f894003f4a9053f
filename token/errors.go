package token

import "errors"

// Sentinel errors for the outcomes callers branch on. Each maps to one
// reason name in the extauthz package.
var (
	ErrTooLarge         = errors.New("token: too large")
	ErrMalformed        = errors.New("token: malformed")
	ErrUnsupportedAlg   = errors.New("token: unsupported algorithm")
	ErrUnknownIssuer    = errors.New("token: unknown issuer")
	ErrUnknownKey       = errors.New("token: unknown key id")
	ErrSignature        = errors.New("token: bad signature")
	ErrKeysUnavailable  = errors.New("token: keys unavailable")
	ErrExpired          = errors.New("token: expired")
	ErrNotYetValid      = errors.New("token: not yet valid")
	ErrLifetimeExceeded = errors.New("token: lifetime exceeded")
	ErrAudience         = errors.New("token: bad audience")
	ErrType             = errors.New("token: bad typ")
)
