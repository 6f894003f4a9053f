package issuer

import (
	"github.com/jwt-authz/jwt-authz/dpop"

	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// Token type identifiers of RFC 8693 §3.
const (
	tokenTypeJWT    = "urn:ietf:params:oauth:token-type:jwt"
	tokenTypeAccess = "urn:ietf:params:oauth:token-type:access_token"
)

// exchangeGrant handles the RFC 8693 token exchange: a valid token of an
// exchange provider becomes a new session for the same subject, carrying
// the configured claims.
// With a DPoP proof, the new session is bound to the proof's key.
func (i *Issuer) exchangeGrant(r *http.Request, form url.Values, ex ExchangeValidator, proof *dpop.Proof) (*TokenResponse, *failure) {
	ctx := r.Context()
	subjectToken := form.Get("subject_token")
	switch {
	case subjectToken == "":
		return nil, invalidRequest("missing subject_token")
	case form.Get("subject_token_type") == "":
		return nil, invalidRequest("missing subject_token_type")
	case form.Get("subject_token_type") != tokenTypeJWT && form.Get("subject_token_type") != tokenTypeAccess:
		return nil, invalidRequest("subject_token_type must be " + tokenTypeJWT + " or " + tokenTypeAccess)
	case form.Has("actor_token") || form.Has("actor_token_type"):
		return nil, invalidRequest("delegation (actor_token) is not supported")
	}
	if rt := form.Get("requested_token_type"); rt != "" && rt != tokenTypeAccess && rt != tokenTypeJWT {
		return nil, invalidRequest("requested_token_type must be " + tokenTypeAccess)
	}
	for _, target := range append(form["audience"], form["resource"]...) {
		if !i.isAudience(target) {
			return nil, &failure{http.StatusBadRequest, "invalid_target", "tokens are only issued for the configured audiences", resultInvalidReq}
		}
	}
	requested, scopeGiven := form.Get("scope"), form.Has("scope")
	if scopeGiven && !validScope(requested) {
		return nil, invalidScope("malformed scope")
	}

	provider, claims, err := ex.ValidateExchange(ctx, subjectToken)
	if errors.Is(err, ErrTemporarilyUnavailable) {
		i.log.WarnContext(ctx, "validate subject token", "err", err)
		return nil, unavailable("subject token cannot be validated now")
	}
	if err != nil {
		i.log.DebugContext(ctx, "subject token refused", "err", err)
		return nil, invalidGrant("subject token is invalid")
	}
	if !i.exchange[provider] {
		i.log.DebugContext(ctx, "subject token from a provider not allowed for exchange", "provider", provider)
		return nil, invalidGrant("subject token's issuer is not allowed for token exchange")
	}
	req, f := i.exchangeRequest(claims)
	if f != nil {
		return nil, f
	}
	if scopeGiven {
		if !scopeSubset(requested, req.Scope) {
			return nil, invalidScope("requested scope exceeds the subject token's scope")
		}
		req.Scope = requested
	}
	req.ClientAddr = clientAddr(r)
	req.JKT = proofJKT(proof)
	resp, err := i.issue(ctx, req, grantExchange)
	switch {
	case errors.Is(err, ErrInvalidRequest):
		i.log.DebugContext(ctx, "subject token claims refused", "err", err, "provider", provider)
		return nil, invalidGrant("subject token claims cannot be carried over")
	case errors.Is(err, ErrTemporarilyUnavailable):
		return nil, unavailable("session store unavailable")
	case err != nil:
		return nil, serverError()
	}
	i.log.LogAttrs(ctx, slog.LevelDebug, "token exchanged", slog.String("provider", provider))
	resp.IssuedTokenType = tokenTypeAccess
	return resp, nil
}

// exchangeRequest builds the session of an exchanged token from its claims:
// "sub" always, "scope"/"scp" and the other ExchangeClaims when listed.
func (i *Issuer) exchangeRequest(claims map[string]any) (MintRequest, *failure) {
	sub, _ := claims["sub"].(string)
	if !validSubject(sub) {
		return MintRequest{}, invalidGrant("subject token has no usable sub")
	}
	req := MintRequest{Subject: sub}
	for _, name := range i.opts.ExchangeClaims {
		switch name {
		case "sub":
		case "scope", "scp":
			scope, ok := scopeOf(claims)
			if !ok || !validScope(scope) {
				return MintRequest{}, invalidGrant("subject token scope is malformed")
			}
			req.Scope = scope
		default:
			v, ok := claims[name]
			if !ok || reservedClaims[name] {
				continue
			}
			if req.Claims == nil {
				req.Claims = make(map[string]any)
			}
			req.Claims[name] = v
		}
	}
	return req, nil
}

// scopeOf reads "scope" (a space-separated string) or "scp" (an array of
// strings, or a string). ok is false when the claim has another type.
func scopeOf(claims map[string]any) (string, bool) {
	if v, present := claims["scope"]; present {
		s, ok := v.(string)
		return s, ok
	}
	switch v := claims["scp"].(type) {
	case nil:
		return "", true
	case string:
		return v, true
	case []string:
		return strings.Join(v, " "), true
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return "", false
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, " "), true
	default:
		return "", false
	}
}

// isAudience reports whether target is one of the configured audiences.
func (i *Issuer) isAudience(target string) bool {
	for _, a := range i.opts.Audiences {
		if a == target {
			return true
		}
	}
	return false
}
