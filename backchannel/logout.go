package backchannel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jwt-authz/jwt-authz/token"
)

// EventURI is the member of the events claim that makes a JWT a
// back-channel logout token.
const EventURI = "http://schemas.openid.net/event/backchannel-logout"

// MaxAge is how far in the past a logout token's iat may lie (plus the
// provider's clock skew); a jti is remembered for as long.
const MaxAge = 5 * time.Minute

// maxIDBytes bounds sid and sub: longer values are not real identifiers
// and would not fit a revocation entry.
const maxIDBytes = 256

// Verifier verifies a token's signature with the keys of the provider
// whose issuer equals its "iss", without validating its claims.
// *token.Verifier satisfies it.
type Verifier interface {
	VerifySignature(ctx context.Context, raw string) (token.Result, error)
}

// Settings are one provider's back-channel logout settings.
type Settings struct {
	Enabled bool
	// Audience must be one of the logout token's aud values.
	Audience string
	// ClockSkew widens the iat window and the exp check.
	ClockSkew time.Duration
}

// Logout is an accepted logout token's effect: the session SID of the
// provider, or, when SID is empty, every token of Subject issued at or
// before IssuedAt.
type Logout struct {
	Provider string
	SID      string
	Subject  string
	JTI      string
	// IssuedAt is the logout token's iat, unix seconds: the moment of the
	// logout at the identity provider.
	IssuedAt int64
}

// Revoker records a logout on every replica. It must be idempotent:
// recording the same Logout twice revokes no more than once. ctx carries
// the revocation.Actor (backchannel_logout:<provider> and the caller's
// address) for the revocation audit line.
type Revoker interface {
	Revoke(ctx context.Context, l Logout) error
}

// errInvalid is a logout token refused for what it is; its text is the
// error_description, and never contains the token.
type errInvalid struct {
	result string // metric result
	desc   string
}

func (e *errInvalid) Error() string { return e.desc }

func invalid(format string, args ...any) error {
	return &errInvalid{result: ResultInvalidToken, desc: fmt.Sprintf(format, args...)}
}

// validate checks a verified logout token against the provider's settings
// at now. It does not look at the replay cache.
func validate(c *token.Claims, s Settings, now time.Time) (Logout, error) {
	if c.Type != "" && !isLogoutTyp(c.Type) {
		return Logout{}, invalid("typ must be logout+jwt")
	}
	if !contains(c.Audience, s.Audience) {
		return Logout{}, invalid("aud does not contain this service's back-channel logout audience")
	}
	skew := int64(s.ClockSkew / time.Second)
	t := now.Unix()
	switch {
	case c.IssuedAt == 0:
		return Logout{}, invalid("iat is missing")
	case c.IssuedAt > t+skew:
		return Logout{}, invalid("iat is in the future")
	case c.IssuedAt < t-int64(MaxAge/time.Second)-skew:
		return Logout{}, invalid("iat is more than %s old", MaxAge)
	}
	if c.Expiry != 0 && t >= c.Expiry+skew {
		return Logout{}, invalid("logout_token has expired")
	}
	if c.SessionID == "" && c.Subject == "" {
		return Logout{}, invalid("sid and sub are both missing")
	}
	if len(c.SessionID) > maxIDBytes || len(c.Subject) > maxIDBytes {
		return Logout{}, invalid("sid or sub is longer than %d bytes", maxIDBytes)
	}
	if c.ID == "" {
		return Logout{}, invalid("jti is missing")
	}
	if err := validatePayload(c.RawPayload); err != nil {
		return Logout{}, err
	}
	return Logout{SID: c.SessionID, Subject: c.Subject, JTI: c.ID, IssuedAt: c.IssuedAt}, nil
}

// validatePayload checks the claims the token package does not read:
// events and nonce.
func validatePayload(payload []byte) error {
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		return invalid("claims are not a JSON object")
	}
	if _, ok := claims["nonce"]; ok {
		// A nonce marks an ID token; a logout token must not carry one, so
		// that an ID token is never taken for a logout.
		return invalid("nonce must not be present")
	}
	raw, ok := claims["events"]
	if !ok {
		return invalid("events is missing")
	}
	var events map[string]json.RawMessage
	if !isObject(raw) || json.Unmarshal(raw, &events) != nil {
		return invalid("events must be a JSON object")
	}
	ev, ok := events[EventURI]
	if !ok {
		return invalid("events has no %s member", EventURI)
	}
	if !isObject(ev) {
		return invalid("the %s event must be a JSON object", EventURI)
	}
	return nil
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// isLogoutTyp compares typ as RFC 7515 §4.1.9 asks: case-insensitive, the
// "application/" prefix optional.
func isLogoutTyp(typ string) bool {
	const prefix = "application/"
	if len(typ) > len(prefix) && strings.EqualFold(typ[:len(prefix)], prefix) {
		typ = typ[len(prefix):]
	}
	return strings.EqualFold(typ, "logout+jwt")
}

// describeVerifyError turns a signature verification failure into an
// error_description and a metric result.
func describeVerifyError(err error) (result, desc string) {
	switch {
	case errors.Is(err, token.ErrTooLarge):
		return ResultInvalidToken, "logout_token is too large"
	case errors.Is(err, token.ErrUnknownIssuer):
		return ResultInvalidToken, "logout_token's iss is not a configured provider"
	case errors.Is(err, token.ErrUnsupportedAlg):
		return ResultInvalidToken, "logout_token's alg is not accepted for this provider"
	case errors.Is(err, token.ErrUnknownKey):
		return ResultInvalidToken, "no key of the provider has the logout_token's kid"
	case errors.Is(err, token.ErrSignature):
		return ResultInvalidToken, "logout_token's signature does not verify"
	case errors.Is(err, token.ErrKeysUnavailable):
		return ResultUnavailable, "the provider's keys are unavailable; retry later"
	default:
		return ResultInvalidToken, "logout_token is not a well-formed signed JWT"
	}
}
