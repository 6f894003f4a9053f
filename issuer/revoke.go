package issuer

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/jwt-authz/jwt-authz/session"
)

// RevokeHandler serves POST /oauth2/revoke (RFC 7009): token=<a refresh or
// access token of this issuer> revokes its whole session, in the session
// store (no refresh) and through the SessionRevoker (the check denies every
// access token of the session). The answer is 200 for any well-formed
// request, including an unknown, foreign or invalid token, so the endpoint
// tells nothing about tokens; 400 invalid_request without a token, 503 when
// the revocation cannot be recorded (the client retries).
//
// An expired token still revokes its session: the session's newer tokens
// may be live, and only a holder of a token this issuer signed can do it.
func (i *Issuer) RevokeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, f := readForm(w, r)
		if f != nil {
			f.write(w)
			return
		}
		raw := form.Get("token")
		if raw == "" {
			invalidRequest("missing token").write(w)
			return
		}
		ctx := r.Context()
		tok, err := i.verifyOwn(ctx, raw, "", true)
		if err != nil {
			i.log.DebugContext(ctx, "revocation of a token that is not this issuer's ignored")
			writeRevoked(w)
			return
		}
		if err := i.sessions.Revoke(ctx, tok.SessionID); err != nil {
			i.log.ErrorContext(ctx, "revoke session in the session store", "err", err, "sid", tok.SessionID,
				"backend_error", errors.Is(err, session.ErrUnavailable))
			unavailable("revocation could not be recorded").write(w)
			return
		}
		if err := i.revoker.RevokeSession(ctx, tok.SessionID); err != nil {
			i.log.ErrorContext(ctx, "record session revocation", "err", err, "sid", tok.SessionID)
			unavailable("revocation could not be recorded").write(w)
			return
		}
		i.audit(ctx, slog.LevelInfo, eventRevoked, "", tok.Subject, tok.SessionID, tok.ID, clientAddr(r))
		writeRevoked(w)
	})
}

// writeRevoked writes the empty 200 answer of RFC 7009 §2.2.
func writeRevoked(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
}
