package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/session"
)

// testRetries checks that a call made again with the same arguments, as a
// client library does when a reply is lost, repeats its outcome instead of
// turning into a conflict or a reuse.
func testRetries(t *testing.T, s session.Store) {
	now := base()
	sess := newSession(t, now)
	mustCreate(t, s, sess)
	if err := s.Create(t.Context(), sess); err != nil {
		t.Fatalf("Create of the same session again = %v, want nil (a retry)", err)
	}
	other := sess
	other.RefreshJTI = randomID(t)
	if err := s.Create(t.Context(), other); !errors.Is(err, session.ErrExists) {
		t.Fatalf("Create of another session with a taken sid = %v, want ErrExists", err)
	}

	next := session.Rotation{JTI: randomID(t), RetainUntil: now.Add(40 * time.Minute)}
	for i := range 2 {
		if out := rotate(t, s, sess.ID, sess.RefreshJTI, next, now.Add(time.Second)); out.Result != session.Rotated {
			t.Fatalf("rotation, call %d with the same arguments = %v, want Rotated", i+1, out.Result)
		}
	}
	got := mustGet(t, s, sess.ID)
	if got.RefreshJTI != next.JTI || got.Revoked {
		t.Fatalf("after a retried rotation: refresh jti %q revoked %v, want %q and not revoked", got.RefreshJTI, got.Revoked, next.JTI)
	}
	if err := s.Create(t.Context(), sess); !errors.Is(err, session.ErrExists) {
		t.Fatalf("Create of the session after it rotated = %v, want ErrExists", err)
	}

	// The rotated token with any other next jti is still a reuse.
	again := session.Rotation{JTI: randomID(t), RetainUntil: now.Add(40 * time.Minute)}
	if out := rotate(t, s, sess.ID, sess.RefreshJTI, again, now.Add(2*time.Second)); out.Result != session.Reused {
		t.Fatalf("the rotated token presented again = %v, want Reused", out.Result)
	}
	if out := rotate(t, s, sess.ID, sess.RefreshJTI, next, now.Add(3*time.Second)); out.Result != session.Revoked {
		t.Fatalf("a retry after the session was revoked = %v, want Revoked", out.Result)
	}
}
