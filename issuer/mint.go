package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/jwt-authz/jwt-authz/session"
)

// MintRequest asks for a new session and its first token pair.
type MintRequest struct {
	// Subject is the "sub" of the session's tokens; required.
	Subject string
	// Scope is the space-separated scope granted to the session.
	Scope string
	// Claims are extra access-token claims. Registered names (iss, sub,
	// aud, exp, iat, nbf, jti, sid, scope, client_id, ...) are refused.
	Claims map[string]any
	// ClientAddr is the requester's address, for the audit line.
	ClientAddr string
	// JKT, when set, binds the session to that DPoP key (RFC 9449 §5):
	// its access tokens carry it as cnf.jkt and it is refreshed only with
	// a proof by the key.
	JKT string
}

// TokenResponse is the RFC 6749 §5.1 success response of the token
// endpoint (and of Mint).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope,omitempty"`
	// IssuedTokenType is set on token exchange responses (RFC 8693 §2.2.1).
	IssuedTokenType string `json:"issued_token_type,omitempty"`
}

// Mint creates a new session for req.Subject in the session store and
// returns its first access and refresh token. It is the path of POST
// /admin/tokens and "jwt-authz token issue". Errors wrap ErrInvalidRequest
// for a bad request and ErrTemporarilyUnavailable when the session store is
// unreachable.
func (i *Issuer) Mint(ctx context.Context, req MintRequest) (*TokenResponse, error) {
	resp, err := i.issue(ctx, req, grantAdmin)
	switch {
	case err == nil:
		i.metrics.request(grantAdmin, resultIssued)
	case errors.Is(err, ErrInvalidRequest):
		i.metrics.request(grantAdmin, resultInvalidReq)
	default:
		i.metrics.request(grantAdmin, resultError)
	}
	return resp, err
}

// issue creates a session and mints its first pair.
func (i *Issuer) issue(ctx context.Context, req MintRequest, grant string) (*TokenResponse, error) {
	if !validSubject(req.Subject) {
		return nil, fmt.Errorf("%w: subject must be 1 to %d bytes of printable UTF-8", ErrInvalidRequest, maxSubjectBytes)
	}
	if !validScope(req.Scope) {
		return nil, fmt.Errorf("%w: malformed scope", ErrInvalidRequest)
	}
	claims, err := encodeExtraClaims(req.Claims)
	if err != nil {
		return nil, err
	}
	now := i.now()
	s := session.Session{
		ID:        randomID(),
		Subject:   req.Subject,
		Scope:     req.Scope,
		Claims:    claims,
		CreatedAt: now,
		ExpiresAt: now.Add(i.opts.SessionMaxLifetime),
		JKT:       req.JKT,
	}
	p, err := i.mintPair(s, s.Scope, s.JKT, now)
	if err != nil {
		return nil, err
	}
	s.RefreshJTI, s.RetainUntil = p.refreshJTI, p.refreshExp
	if err := i.sessions.Create(ctx, s); err != nil {
		i.log.ErrorContext(ctx, "create session", "err", err, "backend_error", errors.Is(err, session.ErrUnavailable))
		if errors.Is(err, session.ErrUnavailable) {
			return nil, fmt.Errorf("create session: %w: %w", ErrTemporarilyUnavailable, err)
		}
		return nil, fmt.Errorf("create session: %w", err)
	}
	i.audit(ctx, slog.LevelInfo, eventIssued, grant, s.Subject, s.ID, p.refreshJTI, req.ClientAddr)
	return p.resp, nil
}

// pair is a freshly minted access and refresh token of one session.
type pair struct {
	resp       *TokenResponse
	refreshJTI string
	accessExp  time.Time
	refreshExp time.Time
}

// mintPair signs an access token with scope and a refresh token for s at
// now. Neither outlives s.ExpiresAt. jkt, when set, binds the access token
// to that DPoP key (cnf.jkt, token_type DPoP).
func (i *Issuer) mintPair(s session.Session, scope, jkt string, now time.Time) (pair, error) {
	accessExp := minTime(now.Add(i.opts.AccessTokenTTL), s.ExpiresAt).Truncate(time.Second)
	refreshExp := minTime(now.Add(i.opts.RefreshTokenTTL), s.ExpiresAt).Truncate(time.Second)
	iat := now.Unix()

	registered, err := json.Marshal(accessClaims{
		Issuer:   i.opts.Issuer,
		Subject:  s.Subject,
		Audience: i.audience,
		Expiry:   accessExp.Unix(),
		IssuedAt: iat,
		ID:       randomID(),
		Session:  s.ID,
		Scope:    scope,
		ClientID: i.opts.ClientID,
		Cnf:      confirmationOf(jkt),
	})
	if err != nil {
		return pair{}, fmt.Errorf("encode access token claims: %w", err)
	}
	payload, err := appendClaims(registered, s.Claims)
	if err != nil {
		return pair{}, fmt.Errorf("session %s: %w", s.ID, err)
	}
	access, err := i.sign(typAccess, payload)
	if err != nil {
		return pair{}, err
	}
	refreshJTI := randomID()
	payload, err = json.Marshal(refreshClaims{
		Issuer:   i.opts.Issuer,
		Subject:  s.Subject,
		Audience: i.opts.Issuer,
		Expiry:   refreshExp.Unix(),
		IssuedAt: iat,
		ID:       refreshJTI,
		Session:  s.ID,
	})
	if err != nil {
		return pair{}, fmt.Errorf("encode refresh token claims: %w", err)
	}
	refresh, err := i.sign(typRefresh, payload)
	if err != nil {
		return pair{}, err
	}
	return pair{
		resp: &TokenResponse{
			AccessToken:  access,
			TokenType:    tokenType(jkt),
			ExpiresIn:    max(accessExp.Unix()-iat, 0),
			RefreshToken: refresh,
			Scope:        scope,
		},
		refreshJTI: refreshJTI,
		accessExp:  accessExp,
		refreshExp: refreshExp,
	}, nil
}

// sign signs payload with the current key as a compact JWS with the given
// "typ" and the key's "kid".
//
// The JWS is put together here and only the signature is jwx's: jws.Sign
// can validate the key through jwk.Key's Validate method, and that one
// call through an interface makes the linker keep the Validate methods of
// every Envoy API type (1.2 MB of the binary, 1 MiB of RSS at idle).
func (i *Issuer) sign(typ string, payload []byte) (string, error) {
	k := i.keys
	hdr := jws.NewHeaders()
	for _, kv := range [][2]any{{jws.AlgorithmKey, k.signAlg}, {jws.TypeKey, typ}, {jws.KeyIDKey, k.signKID}} {
		if err := hdr.Set(kv[0].(string), kv[1]); err != nil {
			return "", fmt.Errorf("set %s header: %w", kv[0], err)
		}
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		return "", fmt.Errorf("encode %s header: %w", typ, err)
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(payload)
	sig, err := k.jwsSigner.Sign([]byte(input), k.signer)
	if err != nil {
		return "", fmt.Errorf("sign %s: %w", typ, err)
	}
	return input + "." + b64.EncodeToString(sig), nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
