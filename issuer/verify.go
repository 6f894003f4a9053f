package issuer

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// maxTokenBytes bounds a token this issuer verifies; its own tokens are far
// smaller.
const maxTokenBytes = 8 << 10

// iatLeeway tolerates an "iat" slightly in the future, minted by a replica
// whose clock runs ahead.
const iatLeeway = 30 * time.Second

// Verification failures of the issuer's own tokens. The token endpoint
// answers all of them with invalid_grant.
var (
	errTokenInvalid = errors.New("token is invalid")
	errTokenExpired = errors.New("token has expired")
)

// ownToken is a token of this issuer whose signature and claims were
// verified and validated.
type ownToken struct {
	Type      string
	Subject   string
	SessionID string
	ID        string
	Expiry    time.Time
}

// tokenClaims is what verifyOwn reads from a payload.
type tokenClaims struct {
	Issuer   string          `json:"iss"`
	Subject  string          `json:"sub"`
	Audience json.RawMessage `json:"aud"`
	Expiry   *int64          `json:"exp"`
	IssuedAt *int64          `json:"iat"`
	ID       string          `json:"jti"`
	Session  string          `json:"sid"`
}

// verifyOwn verifies raw as a compact JWS signed by one of the issuer's
// published keys and validates its claims at now. wantTyp is typAccess,
// typRefresh, or "" for either. The "alg" must be the one of the key named
// by "kid" (so never none or HS*); "crit" and unencoded payloads are
// refused. Unless allowExpired, an expired token gives errTokenExpired.
// Every other failure is errTokenInvalid.
func (i *Issuer) verifyOwn(raw, wantTyp string, now time.Time, allowExpired bool) (ownToken, error) {
	if raw == "" || len(raw) > maxTokenBytes || strings.Count(raw, ".") != 2 {
		return ownToken{}, errTokenInvalid
	}
	msg, err := jws.Parse([]byte(raw), jws.WithCompact())
	if err != nil {
		return ownToken{}, errTokenInvalid
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 {
		return ownToken{}, errTokenInvalid
	}
	h := sigs[0].ProtectedHeaders()
	typ := h.Type()
	if (wantTyp != "" && typ != wantTyp) || (wantTyp == "" && typ != typAccess && typ != typRefresh) {
		return ownToken{}, errTokenInvalid
	}
	if len(h.Critical()) > 0 {
		return ownToken{}, errTokenInvalid
	}
	if _, ok := h.Get("b64"); ok {
		return ownToken{}, errTokenInvalid
	}
	pk, ok := i.keys.lookup(h.KeyID())
	if !ok || jwa.SignatureAlgorithm(pk.Algorithm) != h.Algorithm() {
		return ownToken{}, errTokenInvalid
	}
	verifier, err := jws.NewVerifier(h.Algorithm())
	if err != nil {
		return ownToken{}, errTokenInvalid
	}
	signingInput := raw[:strings.LastIndexByte(raw, '.')]
	if err := verifier.Verify([]byte(signingInput), sigs[0].Signature(), pk.Key); err != nil {
		return ownToken{}, errTokenInvalid
	}

	var c tokenClaims
	if err := json.Unmarshal(msg.Payload(), &c); err != nil {
		return ownToken{}, errTokenInvalid
	}
	if c.Issuer != i.opts.Issuer || c.Subject == "" || c.ID == "" || c.Session == "" ||
		c.Expiry == nil || c.IssuedAt == nil {
		return ownToken{}, errTokenInvalid
	}
	if !i.audienceFits(typ, c.Audience) {
		return ownToken{}, errTokenInvalid
	}
	if time.Unix(*c.IssuedAt, 0).After(now.Add(iatLeeway)) {
		return ownToken{}, errTokenInvalid
	}
	exp := time.Unix(*c.Expiry, 0)
	if !allowExpired && !now.Before(exp) {
		return ownToken{}, errTokenExpired
	}
	return ownToken{Type: typ, Subject: c.Subject, SessionID: c.Session, ID: c.ID, Expiry: exp}, nil
}

// audienceFits checks "aud": the issuer itself for a refresh token, one of
// the configured audiences for an access token.
func (i *Issuer) audienceFits(typ string, raw json.RawMessage) bool {
	var list []string
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		list = []string{one}
	} else if err := json.Unmarshal(raw, &list); err != nil {
		return false
	}
	for _, a := range list {
		if typ == typRefresh && a == i.opts.Issuer {
			return true
		}
		if typ == typAccess {
			for _, want := range i.opts.Audiences {
				if a == want {
					return true
				}
			}
		}
	}
	return false
}
