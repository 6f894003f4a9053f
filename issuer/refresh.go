package issuer

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/jwt-authz/jwt-authz/dpop"
	"github.com/jwt-authz/jwt-authz/session"
)

// revokeTimeout bounds recording a session revocation after reuse; it runs
// detached from the request so a client hanging up cannot skip it.
const revokeTimeout = 10 * time.Second

// refreshGrant handles grant_type=refresh_token (RFC 6749 §6).
// proof is the request's accepted DPoP proof, or nil.
func (i *Issuer) refreshGrant(r *http.Request, form url.Values, proof *dpop.Proof) (*TokenResponse, *failure) {
	raw := form.Get("refresh_token")
	if raw == "" {
		return nil, invalidRequest("missing refresh_token")
	}
	scope, scopeGiven := form.Get("scope"), form.Has("scope")
	return i.refresh(r.Context(), raw, scope, scopeGiven, clientAddr(r), proof)
}

// refresh rotates the refresh token raw. Verification, the session checks
// and minting happen before the store's compare-and-swap, which alone
// decides: rotate, replay the pair of a rotation within the grace window,
// or (for any other jti) revoke the whole session.
//
// A session bound to a DPoP key is refreshed only with a proof by that
// key (RFC 9449 §5); an unbound session refreshed with a proof is bound
// to the proof's key by the rotation, and its new access token with it.
func (i *Issuer) refresh(ctx context.Context, raw, scope string, scopeGiven bool, addr string, proof *dpop.Proof) (*TokenResponse, *failure) {
	now := i.now()
	tok, err := i.verifyOwn(ctx, raw, typRefresh, false)
	if errors.Is(err, errTokenExpired) {
		return nil, invalidGrant("refresh token has expired")
	}
	if err != nil {
		return nil, invalidGrant("refresh token is invalid")
	}
	// A revocation of the refresh token's jti, session or subject (its
	// iat at or before the cut-off) ends the chain: otherwise a subject
	// revocation would be undone by the next refresh, whose tokens are
	// issued after the cut-off.
	if rc := i.opts.Revocations; rc != nil {
		revoked, err := rc.Revoked(tok.ID, tok.SessionID, tok.Subject, tok.IssuedAt)
		if err != nil {
			i.log.WarnContext(ctx, "refresh refused: revocations unavailable", "err", err)
			return nil, unavailable("revocation state unavailable")
		}
		if revoked {
			return nil, invalidGrant("refresh token is revoked")
		}
	}
	s, err := i.sessions.Get(ctx, tok.SessionID)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return nil, invalidGrant("refresh token is invalid")
	case err != nil:
		return nil, i.storeFailure(ctx, "get session", err)
	case s.Subject != tok.Subject:
		i.log.WarnContext(ctx, "refresh token subject does not match its session", "sid", s.ID)
		return nil, invalidGrant("refresh token is invalid")
	case s.Revoked:
		return nil, invalidGrant("session is revoked")
	case !now.Before(s.ExpiresAt):
		return nil, invalidGrant("session has reached its maximum lifetime")
	}
	// The current refresh token of a bound session is used only with a
	// proof by the session's key, and a refusal changes nothing. A token
	// that is no longer current is the store's to judge first: reuse
	// revokes the session whatever the proof (else a thief who won the
	// first refresh with a proof would hide the legitimate client's reuse
	// behind its own key), and only a replay needs the key.
	current := tok.ID == s.RefreshJTI
	if !current && tok.Expiry.After(s.RetainUntil) {
		return nil, i.storeBehind(ctx, s, tok, addr)
	}
	jkt, bind, keyFailure := sessionKey(s.JKT, proof)
	if keyFailure != nil && current {
		return nil, keyFailure
	}
	accessScope := s.Scope
	if scopeGiven {
		if !validScope(scope) || !scopeSubset(scope, s.Scope) {
			return nil, invalidScope("requested scope exceeds the granted scope")
		}
		accessScope = scope
	}

	// A jti that is not current now can never become current again, so its
	// outcome (replay, reuse, revoked) needs no new pair: the store is told
	// to rotate to a jti that is never issued.
	next := session.Rotation{JTI: randomID()}
	var p pair
	if current {
		if p, err = i.mintPair(s, accessScope, jkt, now); err != nil {
			i.log.ErrorContext(ctx, "mint token pair", "err", err)
			return nil, serverError()
		}
		next = session.Rotation{JTI: p.refreshJTI, RetainUntil: p.refreshExp}
		if bind {
			// Atomic with the rotation: of concurrent refreshes of this
			// jti, the one that rotates binds the session to its key.
			next.JKT = jkt
		}
		if i.opts.RefreshReuseGrace > 0 {
			sealed, err := i.keys.sealReplay(s.ID, tok.ID, p.resp, p.accessExp)
			if err != nil {
				i.log.ErrorContext(ctx, "seal refresh replay", "err", err)
				return nil, serverError()
			}
			next.GraceUntil, next.Replay = now.Add(i.opts.RefreshReuseGrace), sealed
		}
	}
	out, err := i.sessions.Rotate(ctx, s.ID, tok.ID, next, now)
	if err != nil {
		return nil, i.storeFailure(ctx, "rotate session", err)
	}
	switch out.Result {
	case session.Rotated:
		if p.resp == nil {
			// Only reachable with a store that breaks its contract.
			i.log.ErrorContext(ctx, "session store rotated a jti that was not current", "sid", s.ID)
			return nil, serverError()
		}
		i.audit(ctx, slog.LevelInfo, eventRefreshed, grantRefresh, s.Subject, s.ID, p.refreshJTI, addr)
		return p.resp, nil
	case session.Replayed:
		if f := i.replayKey(ctx, s, current, keyFailure, proof); f != nil {
			return nil, f
		}
		resp, err := i.keys.openReplay(s.ID, tok.ID, out.Replay, now)
		if err != nil {
			i.log.WarnContext(ctx, "open refresh replay", "err", err, "sid", s.ID)
			return nil, invalidGrant("refresh token was already used")
		}
		i.audit(ctx, slog.LevelInfo, eventReplayed, grantRefresh, s.Subject, s.ID, tok.ID, addr)
		return resp, nil
	case session.Reused:
		i.metrics.reuse.Inc()
		i.audit(ctx, slog.LevelWarn, eventReuse, grantRefresh, s.Subject, s.ID, tok.ID, addr)
		i.revokeSession(ctx, s.ID)
		return nil, invalidGrant("refresh token was already used; the session is revoked")
	case session.Revoked:
		return nil, invalidGrant("session is revoked")
	case session.Expired:
		return nil, invalidGrant("session has reached its maximum lifetime")
	default:
		return nil, invalidGrant("refresh token is invalid")
	}
}

// replayKey decides whether a refresh answered with the replay of a
// rotation within the grace window may have it: only with a proof by the
// key the session is bound to, if it is. keyFailure is what sessionKey
// said of s, read before the rotation; when the presented token was
// current then, a concurrent rotation has happened since, which may have
// bound the session, so it is read again.
func (i *Issuer) replayKey(ctx context.Context, s session.Session, current bool, keyFailure *failure, proof *dpop.Proof) *failure {
	if !current {
		return keyFailure
	}
	now, err := i.sessions.Get(ctx, s.ID)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return invalidGrant("refresh token is invalid")
	case err != nil:
		return i.storeFailure(ctx, "get session", err)
	}
	_, _, f := sessionKey(now.JKT, proof)
	return f
}

// revokeSession records the revocation of sid for the authorization check
// after the store has revoked the session itself. A failure is logged for
// the operator: the session can no longer be refreshed, but its access
// tokens stay valid until they expire.
func (i *Issuer) revokeSession(ctx context.Context, sid string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
	defer cancel()
	if err := i.revoker.RevokeSession(ctx, sid); err != nil {
		i.log.ErrorContext(ctx, "record session revocation after refresh token reuse; its access tokens stay valid until they expire",
			"err", err, "sid", sid)
	}
}

// storeBehind answers a refresh token that expires later than its
// session's current one, so was issued after it (every refresh token of a
// session is issued for the same lifetime, capped by the session's end):
// the session store lost the rotations since it was issued, restored from
// an older snapshot or failed over to a replica that lacked them. That is
// not reuse, and the session's access tokens are not revoked; but the
// session ends in the store, so that neither this token, which the store
// does not know, nor the older one it holds as current, whose holder
// already rotated it, refreshes again: the client signs in again, as
// after a store that lost the session whole.
func (i *Issuer) storeBehind(ctx context.Context, s session.Session, tok ownToken, addr string) *failure {
	i.metrics.behind.Inc()
	i.audit(ctx, slog.LevelWarn, eventBehind, grantRefresh, s.Subject, s.ID, tok.ID, addr)
	if err := i.sessions.Revoke(ctx, s.ID); err != nil {
		return i.storeFailure(ctx, "end a session the store lost rotations of", err)
	}
	return invalidGrant("refresh token is newer than its session's stored state; sign in again")
}

// storeFailure maps a session store error to an answer.
func (i *Issuer) storeFailure(ctx context.Context, op string, err error) *failure {
	if errors.Is(err, session.ErrUnavailable) {
		i.log.WarnContext(ctx, op, "err", err, "backend_error", true)
		return unavailable("session store unavailable")
	}
	if ctx.Err() != nil {
		return unavailable("request canceled")
	}
	i.log.ErrorContext(ctx, op, "err", err)
	return serverError()
}
