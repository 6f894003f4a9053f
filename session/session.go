package session

import (
	"context"
	"errors"
	"time"
)

// Errors returned by a Store. Callers branch on them with errors.Is.
var (
	// ErrNotFound means no live session has the requested sid.
	ErrNotFound = errors.New("session: not found")
	// ErrExists means Create was called with a sid that is already stored.
	ErrExists = errors.New("session: already exists")
	// ErrUnavailable means the backend could not be reached; the operation
	// may or may not have been applied. It is not the client's fault.
	ErrUnavailable = errors.New("session: store unavailable")
	// ErrInvalid means the arguments break the Store contract (an empty sid
	// or jti, a rotation to the presented jti).
	ErrInvalid = errors.New("session: invalid argument")
)

// Session is one token family: the refresh tokens and access tokens minted
// for a subject under one sid.
type Session struct {
	// ID is the sid carried by every token of the session.
	ID string
	// Subject is the "sub" of every token of the session.
	Subject string
	// Scope is the space-separated scope granted to the session.
	Scope string
	// Claims is a JSON object of extra access-token claims, or nil. The store
	// keeps it verbatim.
	Claims []byte
	// CreatedAt is when the session was created.
	CreatedAt time.Time
	// ExpiresAt ends the session: it cannot be rotated at or after this
	// instant (session_max_lifetime).
	ExpiresAt time.Time
	// RefreshJTI is the jti of the only refresh token that rotates.
	RefreshJTI string
	// RetainUntil is the expiry of the newest refresh token; past it no token
	// of the session can be presented and the record may be dropped.
	RetainUntil time.Time
	// Revoked is set once the session is revoked (explicitly or by reuse);
	// it is never cleared.
	Revoked bool
	// JKT, when set, binds the session to a DPoP key (RFC 9449 §5): the
	// base64url SHA-256 thumbprint of the key every refresh must prove
	// possession of, and the cnf.jkt of its access tokens. It is set when
	// the session is created, or by the first rotation that carries a
	// Rotation.JKT; once set it never changes.
	JKT string
}

// Rotation describes the refresh token that replaces the presented one.
type Rotation struct {
	// JTI becomes the session's RefreshJTI.
	JTI string
	// RetainUntil is the expiry of the new refresh token (see
	// Session.RetainUntil).
	RetainUntil time.Time
	// GraceUntil is the end of the window in which the presented jti, once
	// rotated, receives Replay again instead of revoking the session. A zero
	// or past instant, or an empty Replay, disables the window.
	GraceUntil time.Time
	// Replay is what a retry with the presented jti receives inside the grace
	// window: typically the issued pair, encrypted. The store keeps it opaque.
	Replay []byte
	// JKT, when set, binds a session that is not bound yet to this DPoP
	// key in the same atomic step as the rotation (a public client's first
	// refresh with a proof, RFC 9449 §5). A bound session keeps its key;
	// an outcome other than Rotated binds nothing.
	JKT string
}

// Result is the outcome of Store.Rotate.
type Result int

// Results of Store.Rotate.
const (
	// Rotated: the presented jti was current and has been replaced.
	Rotated Result = iota + 1
	// Replayed: the presented jti was replaced within the grace window;
	// Outcome.Replay holds the stored replay. Nothing changed.
	Replayed
	// Reused: the presented jti is not current and not within the grace
	// window. The store has revoked the session in the same atomic step.
	Reused
	// Revoked: the session was already revoked. Nothing changed.
	Revoked
	// Expired: the session passed its ExpiresAt. Nothing changed.
	Expired
	// NotFound: no live session has the sid. Nothing changed.
	NotFound
)

// String returns the lower-case name of the result, for logs.
func (r Result) String() string {
	switch r {
	case Rotated:
		return "rotated"
	case Replayed:
		return "replayed"
	case Reused:
		return "reused"
	case Revoked:
		return "revoked"
	case Expired:
		return "expired"
	case NotFound:
		return "not_found"
	default:
		return "unknown"
	}
}

// Outcome is what Store.Rotate decided.
type Outcome struct {
	Result Result
	// Replay is set only when Result is Replayed.
	Replay []byte
}

// Store keeps sessions. Implementations are safe for concurrent use; every
// method honours ctx cancellation where the backend allows it.
type Store interface {
	// Create stores a new session. s.ID, s.Subject and s.RefreshJTI must be
	// set (ErrInvalid otherwise); ErrExists when the sid is taken. Creating
	// the same session again (same sid and RefreshJTI, before any rotation)
	// returns nil and changes nothing: a retried call is not a conflict.
	Create(ctx context.Context, s Session) error

	// Get returns the session with the sid, ErrNotFound when there is none.
	// It may return a session whose RetainUntil has passed until the backend
	// drops it; callers compare times themselves.
	Get(ctx context.Context, sid string) (Session, error)

	// Rotate atomically compares presentedJTI with the session's current
	// refresh jti at instant now and, when they match, replaces it with
	// next.JTI (Rotated). When presentedJTI is the jti replaced last and now
	// is before that rotation's GraceUntil, it returns the stored replay
	// (Replayed). Any other jti revokes the session (Reused). A revoked,
	// expired (now >= ExpiresAt) or unknown session gives Revoked, Expired or
	// NotFound. Of concurrent calls presenting the same current jti, exactly
	// one returns Rotated. Calling Rotate again with the same presentedJTI
	// and next.JTI after it rotated returns Rotated and changes nothing: a
	// retried call is not a reuse (next.JTI is new for every attempt). The error is non-nil only when the outcome is
	// unknown (a backend failure, wrapping ErrUnavailable when it is
	// unreachable) or the arguments are invalid (ErrInvalid).
	Rotate(ctx context.Context, sid, presentedJTI string, next Rotation, now time.Time) (Outcome, error)

	// Revoke marks the session revoked and drops any stored replay. Revoking
	// an unknown or already revoked session is not an error.
	Revoke(ctx context.Context, sid string) error
}

// Sweeper is implemented by backends without native expiry (memory, bolt):
// Sweep drops the records whose RetainUntil is at or before now and returns
// how many it dropped.
type Sweeper interface {
	Sweep(ctx context.Context, now time.Time) (int, error)
}

// ValidateCreate checks the fields Create requires. Backends call it so that
// every store rejects the same input.
func ValidateCreate(s Session) error {
	if s.ID == "" || s.Subject == "" || s.RefreshJTI == "" {
		return ErrInvalid
	}
	return nil
}

// ValidateRotate checks the arguments Rotate requires. Backends call it so
// that every store rejects the same input.
func ValidateRotate(sid, presentedJTI string, next Rotation) error {
	if sid == "" || presentedJTI == "" || next.JTI == "" || next.JTI == presentedJTI {
		return ErrInvalid
	}
	return nil
}
