package extauthz

import (
	"errors"

	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/token"
)

// Reason is the closed set of outcomes of a Check, used in metrics, logs,
// the WWW-Authenticate header and dynamic metadata.
type Reason uint8

// The denial reasons, in validation order (docs/metrics.md). ReasonOK is an allow.
const (
	ReasonOK Reason = iota
	ReasonMissing
	ReasonTooLarge
	ReasonMalformed
	ReasonUnsupportedAlg
	ReasonUnknownIssuer
	ReasonUnknownKID
	ReasonBadSignature
	ReasonKeysUnavailable
	ReasonStoreUnavailable
	ReasonExpired
	ReasonNotYetValid
	ReasonLifetimeExceeded
	ReasonBadAudience
	ReasonBadTyp
	ReasonRevoked
	ReasonInsufficientScope
	ReasonClaimMismatch
	// ReasonAmbiguousPath refuses a request whose path a next hop may read
	// differently (see urlpath); it is decided before any rule.
	ReasonAmbiguousPath
	// ReasonCertMismatch refuses a certificate-bound token without the
	// certificate it is bound to, or an unbound token of a provider that
	// requires the binding (RFC 8705).
	ReasonCertMismatch
	// ReasonInvalidDPoPProof refuses a DPoP-bound token without a valid
	// proof of its key (RFC 9449), a DPoP-bound token presented as a bearer
	// token, and an unbound token where the provider requires DPoP or with
	// the DPoP scheme.
	ReasonInvalidDPoPProof
	reasonCount
)

var reasonNames = [reasonCount]string{
	"ok", "missing", "too_large", "malformed", "unsupported_alg", "unknown_issuer", "unknown_kid",
	"bad_signature", "keys_unavailable", "store_unavailable", "expired", "not_yet_valid",
	"lifetime_exceeded", "bad_audience", "bad_typ", "revoked", "insufficient_scope", "claim_mismatch",
	"ambiguous_path", "cert_mismatch", "invalid_dpop_proof",
}

// String is the reason's name as metrics and logs spell it.
func (r Reason) String() string { return reasonNames[r] }

// kind says how a denial is answered.
type kind uint8

const (
	kindUnauthenticated kind = iota // 401, invalid_token
	kindForbidden                   // 403, insufficient_scope
	kindUnavailable                 // 503, temporarily_unavailable
	kindInvalidRequest              // 400, invalid_request
)

func (r Reason) kind() kind {
	switch r {
	case ReasonInsufficientScope, ReasonClaimMismatch:
		return kindForbidden
	case ReasonKeysUnavailable, ReasonStoreUnavailable:
		return kindUnavailable
	case ReasonAmbiguousPath:
		return kindInvalidRequest
	}
	return kindUnauthenticated
}

// reasonFor maps a verification, validation or revocation error to its
// reason. It is the only place that does so.
func reasonFor(err error) Reason {
	if err == nil {
		return ReasonOK
	}
	if r, ok := sentinelReasons[err]; ok {
		return r
	}
	// A sentinel under one wrap, as token's static parse errors are
	// ("%w: not a compact JWS"): its chain is that sentinel's alone.
	if u := errors.Unwrap(err); u != nil {
		if r, ok := sentinelReasons[u]; ok {
			return r
		}
	}
	return classify(err)
}

// sentinelReasons holds classify's answer for each sentinel error itself:
// the rejections that must stay cheap (Precheck's) return them unwrapped,
// and a map lookup costs less than the chain of errors.Is.
var sentinelReasons = func() map[error]Reason {
	m := map[error]Reason{}
	for _, err := range []error{
		token.ErrTooLarge, token.ErrMalformed, token.ErrUnsupportedAlg, token.ErrUnknownIssuer,
		token.ErrUnknownKey, token.ErrSignature, token.ErrKeysUnavailable, token.ErrExpired,
		token.ErrNotYetValid, token.ErrLifetimeExceeded, token.ErrAudience, token.ErrType,
		revocation.ErrUnavailable, revocation.ErrRevoked,
	} {
		m[err] = classify(err)
	}
	return m
}()

// classify maps an error, wrapped or not, to its reason.
func classify(err error) Reason {
	switch {
	case errors.Is(err, token.ErrTooLarge):
		return ReasonTooLarge
	case errors.Is(err, token.ErrMalformed):
		return ReasonMalformed
	case errors.Is(err, token.ErrUnsupportedAlg):
		return ReasonUnsupportedAlg
	case errors.Is(err, token.ErrUnknownIssuer):
		return ReasonUnknownIssuer
	case errors.Is(err, token.ErrUnknownKey):
		return ReasonUnknownKID
	case errors.Is(err, token.ErrSignature):
		return ReasonBadSignature
	case errors.Is(err, token.ErrKeysUnavailable):
		return ReasonKeysUnavailable
	case errors.Is(err, revocation.ErrUnavailable):
		return ReasonStoreUnavailable
	case errors.Is(err, token.ErrExpired):
		return ReasonExpired
	case errors.Is(err, token.ErrNotYetValid):
		return ReasonNotYetValid
	case errors.Is(err, token.ErrLifetimeExceeded):
		return ReasonLifetimeExceeded
	case errors.Is(err, token.ErrAudience):
		return ReasonBadAudience
	case errors.Is(err, token.ErrType):
		return ReasonBadTyp
	case errors.Is(err, revocation.ErrRevoked):
		return ReasonRevoked
	}
	// An error nobody classified is still a denial: fail closed.
	return ReasonMalformed
}
