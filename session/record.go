package session

import "time"

// Record is what a backend keeps per session: the Session and the state of
// its last rotation. Backends that run Go code inside their transaction
// (memory, bolt) store a Record and decide with Apply, so that they agree
// with each other by construction; the redis backend mirrors Apply in Lua.
type Record struct {
	Session
	// PreviousJTI is the jti replaced by the last rotation.
	PreviousJTI string
	// GraceUntil ends the window in which PreviousJTI receives Replay.
	GraceUntil time.Time
	// Replay is returned to PreviousJTI inside the grace window.
	Replay []byte
}

// Live reports whether the record may still be presented at now: its
// newest refresh token has not expired.
func (r *Record) Live(now time.Time) bool {
	return now.Before(r.RetainUntil)
}

// Apply decides a Rotate on r at now, as documented on Store.Rotate, and
// updates r in place. changed reports whether r must be written back.
func (r *Record) Apply(presentedJTI string, next Rotation, now time.Time) (out Outcome, changed bool) {
	switch {
	case !r.Live(now):
		return Outcome{Result: NotFound}, false
	case r.Revoked:
		return Outcome{Result: Revoked}, false
	case !now.Before(r.ExpiresAt):
		return Outcome{Result: Expired}, false
	case presentedJTI == r.PreviousJTI && next.JTI == r.RefreshJTI:
		// This very rotation already happened: the call is a retry (a
		// client library resends a command whose reply was lost). next.JTI
		// is new for every attempt, so no other call can match it.
		return Outcome{Result: Rotated}, false
	case presentedJTI == r.RefreshJTI:
		r.PreviousJTI = presentedJTI
		r.RefreshJTI = next.JTI
		r.RetainUntil = next.RetainUntil
		r.GraceUntil = next.GraceUntil
		r.Replay = append([]byte(nil), next.Replay...)
		if r.JKT == "" {
			r.JKT = next.JKT
		}
		return Outcome{Result: Rotated}, true
	case presentedJTI == r.PreviousJTI && len(r.Replay) > 0 && now.Before(r.GraceUntil):
		return Outcome{Result: Replayed, Replay: append([]byte(nil), r.Replay...)}, false
	default:
		r.Revoke()
		return Outcome{Result: Reused}, true
	}
}

// IsCreateOf reports whether r is what Create stored for s: the same sid
// and refresh jti (new for every session), so a Create of s again is a
// retry of the one that stored r, not a second session.
func (r *Record) IsCreateOf(s Session) bool {
	return r.ID == s.ID && r.RefreshJTI == s.RefreshJTI && r.PreviousJTI == ""
}

// Revoke marks r revoked and drops its replay, which must not outlive the
// session.
func (r *Record) Revoke() {
	r.Revoked = true
	r.Replay = nil
	r.GraceUntil = time.Time{}
}
