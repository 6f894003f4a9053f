package storetest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/session"
)

// Run runs the contract suite. newStore returns an empty (or at least
// independent) store for each subtest; it may register cleanups on t.
func Run(t *testing.T, newStore func(t *testing.T) session.Store) {
	t.Helper()
	t.Run("CreateGet", func(t *testing.T) { testCreateGet(t, newStore(t)) })
	t.Run("CreateInvalid", func(t *testing.T) { testCreateInvalid(t, newStore(t)) })
	t.Run("RotateDecisions", func(t *testing.T) { testRotateDecisions(t, newStore) })
	t.Run("RotateInvalid", func(t *testing.T) { testRotateInvalid(t, newStore(t)) })
	t.Run("Revoke", func(t *testing.T) { testRevoke(t, newStore(t)) })
	t.Run("ConcurrentRotate", func(t *testing.T) { testConcurrentRotate(t, newStore) })
	t.Run("RotateBinds", func(t *testing.T) { testRotateBinds(t, newStore) })
	t.Run("Retries", func(t *testing.T) { testRetries(t, newStore(t)) })
	t.Run("Sweep", func(t *testing.T) { testSweep(t, newStore(t)) })
}

// base is a reference instant in the near future of the real clock (so
// backends with native expiry keep the records), at millisecond precision
// (the coarsest a backend may store).
func base() time.Time {
	return time.Now().Add(time.Minute).Truncate(time.Millisecond)
}

func randomID(t *testing.T) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// newSession returns a session created at now that expires after 20
// minutes and whose refresh token is retained for 30 (the issuer never
// retains past expiry, but the contract does not depend on it).
func newSession(t *testing.T, now time.Time) session.Session {
	t.Helper()
	return session.Session{
		ID:          randomID(t),
		Subject:     "user-" + randomID(t)[:6],
		Scope:       "read write",
		Claims:      []byte(`{"email":"a@example.com","tenant":"acme"}`),
		CreatedAt:   now,
		ExpiresAt:   now.Add(20 * time.Minute),
		RefreshJTI:  randomID(t),
		RetainUntil: now.Add(30 * time.Minute),
		JKT:         "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
	}
}

func mustCreate(t *testing.T, s session.Store, sess session.Session) {
	t.Helper()
	if err := s.Create(t.Context(), sess); err != nil {
		t.Fatalf("Create: %v", err)
	}
}

func mustGet(t *testing.T, s session.Store, sid string) session.Session {
	t.Helper()
	got, err := s.Get(t.Context(), sid)
	if err != nil {
		t.Fatalf("Get(%s): %v", sid, err)
	}
	return got
}

func rotate(t *testing.T, s session.Store, sid, presented string, next session.Rotation, now time.Time) session.Outcome {
	t.Helper()
	out, err := s.Rotate(t.Context(), sid, presented, next, now)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	return out
}

func equalSession(a, b session.Session) error {
	switch {
	case a.ID != b.ID, a.Subject != b.Subject, a.Scope != b.Scope, a.RefreshJTI != b.RefreshJTI, a.Revoked != b.Revoked, a.JKT != b.JKT:
		return fmt.Errorf("got %+v, want %+v", a, b)
	case !bytes.Equal(a.Claims, b.Claims):
		return fmt.Errorf("claims %q, want %q", a.Claims, b.Claims)
	case !a.CreatedAt.Equal(b.CreatedAt), !a.ExpiresAt.Equal(b.ExpiresAt), !a.RetainUntil.Equal(b.RetainUntil):
		return fmt.Errorf("times created %v expires %v retain %v, want %v %v %v",
			a.CreatedAt, a.ExpiresAt, a.RetainUntil, b.CreatedAt, b.ExpiresAt, b.RetainUntil)
	}
	return nil
}

func testCreateGet(t *testing.T, s session.Store) {
	now := base()
	sess := newSession(t, now)
	mustCreate(t, s, sess)
	if err := equalSession(mustGet(t, s, sess.ID), sess); err != nil {
		t.Fatal(err)
	}

	noClaims := newSession(t, now)
	noClaims.Claims, noClaims.Scope, noClaims.JKT = nil, "", ""
	mustCreate(t, s, noClaims)
	if err := equalSession(mustGet(t, s, noClaims.ID), noClaims); err != nil {
		t.Fatal(err)
	}

	dup := newSession(t, now)
	dup.ID = sess.ID
	if err := s.Create(t.Context(), dup); !errors.Is(err, session.ErrExists) {
		t.Fatalf("Create with a taken sid: %v, want ErrExists", err)
	}
	if err := equalSession(mustGet(t, s, sess.ID), sess); err != nil {
		t.Fatalf("after a refused duplicate: %v", err)
	}
	if _, err := s.Get(t.Context(), randomID(t)); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Get unknown: %v, want ErrNotFound", err)
	}
}

func testCreateInvalid(t *testing.T, s session.Store) {
	tests := map[string]func(*session.Session){
		"no sid":     func(x *session.Session) { x.ID = "" },
		"no subject": func(x *session.Session) { x.Subject = "" },
		"no jti":     func(x *session.Session) { x.RefreshJTI = "" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			sess := newSession(t, base())
			mutate(&sess)
			if err := s.Create(t.Context(), sess); !errors.Is(err, session.ErrInvalid) {
				t.Fatalf("Create: %v, want ErrInvalid", err)
			}
		})
	}
}

// step is one Rotate call of a scenario. presented names a jti: "j0" is the
// session's first refresh jti, "jN" the one the N-th rotation installed,
// anything else a jti never issued.
type step struct {
	presented string
	at        time.Duration // after base
	grace     time.Duration // of the rotation this step asks for
	revoke    bool          // Revoke the session instead of rotating
	want      session.Result
	replayOf  string // for Replayed: the jti whose rotation stored the replay
}

func testRotateDecisions(t *testing.T, newStore func(t *testing.T) session.Store) {
	const g = 10 * time.Second
	tests := map[string]struct {
		steps       []step
		wantRevoked bool
	}{
		"current rotates": {steps: []step{
			{presented: "j0", want: session.Rotated},
			{presented: "j1", at: time.Second, want: session.Rotated},
		}},
		"rotated jti without grace revokes": {wantRevoked: true, steps: []step{
			{presented: "j0", want: session.Rotated},
			{presented: "j0", want: session.Reused},
			{presented: "j1", want: session.Revoked},
		}},
		"replay within grace": {steps: []step{
			{presented: "j0", grace: g, want: session.Rotated},
			{presented: "j0", at: time.Second, want: session.Replayed, replayOf: "j0"},
			{presented: "j0", at: g - time.Millisecond, want: session.Replayed, replayOf: "j0"},
			{presented: "j1", at: 2 * time.Second, want: session.Rotated},
		}},
		"replay after grace revokes": {wantRevoked: true, steps: []step{
			{presented: "j0", grace: g, want: session.Rotated},
			{presented: "j0", at: g, want: session.Reused},
			{presented: "j1", at: g, want: session.Revoked},
		}},
		"older jti within grace revokes": {wantRevoked: true, steps: []step{
			{presented: "j0", grace: g, want: session.Rotated},
			{presented: "j1", grace: g, want: session.Rotated},
			{presented: "j0", want: session.Reused},
		}},
		"never issued jti revokes": {wantRevoked: true, steps: []step{
			{presented: "forged", want: session.Reused},
			{presented: "j0", want: session.Revoked},
		}},
		"revoked session": {wantRevoked: true, steps: []step{
			{revoke: true},
			{presented: "j0", want: session.Revoked},
		}},
		"revoke drops the replay": {wantRevoked: true, steps: []step{
			{presented: "j0", grace: g, want: session.Rotated},
			{revoke: true},
			{presented: "j0", at: time.Second, want: session.Revoked},
		}},
		"expired session": {steps: []step{
			{presented: "j0", at: 20 * time.Minute, want: session.Expired},
			{presented: "forged", at: 25 * time.Minute, want: session.Expired},
		}},
		"past retention is not found": {steps: []step{
			{presented: "j0", at: 30 * time.Minute, want: session.NotFound},
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			now := base()
			sess := newSession(t, now)
			mustCreate(t, s, sess)
			jtis := map[string]string{"j0": sess.RefreshJTI}
			replays := map[string][]byte{}
			rotations := 0
			for n, st := range tc.steps {
				if st.revoke {
					if err := s.Revoke(t.Context(), sess.ID); err != nil {
						t.Fatalf("step %d: Revoke: %v", n, err)
					}
					continue
				}
				presented, ok := jtis[st.presented]
				if !ok {
					presented = randomID(t)
				}
				at := now.Add(st.at)
				next := session.Rotation{JTI: randomID(t), RetainUntil: at.Add(30 * time.Minute)}
				if st.grace > 0 {
					next.GraceUntil = at.Add(st.grace)
					next.Replay = []byte("replay for " + presented)
				}
				out := rotate(t, s, sess.ID, presented, next, at)
				if out.Result != st.want {
					t.Fatalf("step %d (%s): %v, want %v", n, st.presented, out.Result, st.want)
				}
				switch out.Result {
				case session.Rotated:
					rotations++
					jtis[fmt.Sprintf("j%d", rotations)] = next.JTI
					replays[st.presented] = next.Replay
					got := mustGet(t, s, sess.ID)
					if got.RefreshJTI != next.JTI || !got.RetainUntil.Equal(next.RetainUntil) {
						t.Fatalf("step %d: after rotation jti %q retain %v, want %q %v", n, got.RefreshJTI, got.RetainUntil, next.JTI, next.RetainUntil)
					}
				case session.Replayed:
					if want := replays[st.replayOf]; !bytes.Equal(out.Replay, want) {
						t.Fatalf("step %d: replay %q, want %q", n, out.Replay, want)
					}
				default:
					if out.Replay != nil {
						t.Fatalf("step %d: %v carries a replay", n, out.Result)
					}
				}
			}
			if got := mustGet(t, s, sess.ID); got.Revoked != tc.wantRevoked {
				t.Fatalf("revoked = %v, want %v", got.Revoked, tc.wantRevoked)
			}
		})
	}
	t.Run("unknown sid", func(t *testing.T) {
		s := newStore(t)
		out := rotate(t, s, randomID(t), randomID(t), session.Rotation{JTI: randomID(t), RetainUntil: base().Add(time.Hour)}, base())
		if out.Result != session.NotFound {
			t.Fatalf("got %v, want not_found", out.Result)
		}
		if _, err := s.Get(t.Context(), randomID(t)); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Get: %v", err)
		}
	})
}

func testRotateInvalid(t *testing.T, s session.Store) {
	now := base()
	sess := newSession(t, now)
	mustCreate(t, s, sess)
	tests := map[string]struct {
		sid, presented string
		next           session.Rotation
	}{
		"no sid":       {"", sess.RefreshJTI, session.Rotation{JTI: "x"}},
		"no presented": {sess.ID, "", session.Rotation{JTI: "x"}},
		"no next":      {sess.ID, sess.RefreshJTI, session.Rotation{}},
		"same jti":     {sess.ID, sess.RefreshJTI, session.Rotation{JTI: sess.RefreshJTI}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Rotate(t.Context(), tc.sid, tc.presented, tc.next, now); !errors.Is(err, session.ErrInvalid) {
				t.Fatalf("Rotate: %v, want ErrInvalid", err)
			}
		})
	}
	if got := mustGet(t, s, sess.ID); got.Revoked || got.RefreshJTI != sess.RefreshJTI {
		t.Fatalf("invalid rotations changed the session: %+v", got)
	}
}

func testRevoke(t *testing.T, s session.Store) {
	now := base()
	sess := newSession(t, now)
	mustCreate(t, s, sess)
	for range 2 { // idempotent
		if err := s.Revoke(t.Context(), sess.ID); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
	}
	want := sess
	want.Revoked = true
	if err := equalSession(mustGet(t, s, sess.ID), want); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(t.Context(), randomID(t)); err != nil {
		t.Fatalf("Revoke unknown: %v", err)
	}
}

func testConcurrentRotate(t *testing.T, newStore func(t *testing.T) session.Store) {
	const workers = 50
	for _, grace := range []time.Duration{0, time.Minute} {
		t.Run(fmt.Sprintf("grace=%s", grace), func(t *testing.T) {
			s := newStore(t)
			now := base()
			sess := newSession(t, now)
			mustCreate(t, s, sess)
			outcomes := make([]session.Outcome, workers)
			nexts := make([]session.Rotation, workers)
			errs := make([]error, workers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for w := range workers {
				nexts[w] = session.Rotation{JTI: randomID(t), RetainUntil: now.Add(30 * time.Minute)}
				if grace > 0 {
					nexts[w].GraceUntil = now.Add(grace)
					nexts[w].Replay = []byte(nexts[w].JTI)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					outcomes[w], errs[w] = s.Rotate(t.Context(), sess.ID, sess.RefreshJTI, nexts[w], now)
				}()
			}
			close(start)
			wg.Wait()
			winner := -1
			counts := map[session.Result]int{}
			for w, out := range outcomes {
				if errs[w] != nil {
					t.Fatalf("worker %d: %v", w, errs[w])
				}
				counts[out.Result]++
				if out.Result == session.Rotated {
					winner = w
				}
			}
			if counts[session.Rotated] != 1 {
				t.Fatalf("%d rotations succeeded, want exactly 1 (%v)", counts[session.Rotated], counts)
			}
			// Without grace the first loser revokes the session and later
			// ones find it revoked; with grace every loser gets the replay.
			if grace == 0 && (counts[session.Reused] < 1 || counts[session.Reused]+counts[session.Revoked] != workers-1) {
				t.Fatalf("outcomes %v, want 1 rotated, the rest reused or revoked", counts)
			}
			if grace > 0 && counts[session.Replayed] != workers-1 {
				t.Fatalf("outcomes %v, want 1 rotated and %d replayed", counts, workers-1)
			}
			for w, out := range outcomes {
				if out.Result == session.Replayed && !bytes.Equal(out.Replay, nexts[winner].Replay) {
					t.Fatalf("worker %d replayed %q, want the winner's %q", w, out.Replay, nexts[winner].Replay)
				}
			}
			got := mustGet(t, s, sess.ID)
			if got.RefreshJTI != nexts[winner].JTI {
				t.Fatalf("current jti %q, want the winner's %q", got.RefreshJTI, nexts[winner].JTI)
			}
			if got.Revoked != (grace == 0) {
				t.Fatalf("revoked = %v after the race with grace %s", got.Revoked, grace)
			}
		})
	}
}

func testSweep(t *testing.T, s session.Store) {
	sw, ok := s.(session.Sweeper)
	if !ok {
		t.Skip("backend expires records natively")
	}
	now := base()
	short := newSession(t, now)
	short.RetainUntil = now.Add(time.Hour)
	long := newSession(t, now)
	long.RetainUntil = now.Add(2 * time.Hour)
	rotated := newSession(t, now)
	rotated.RetainUntil = now.Add(time.Hour)
	for _, sess := range []session.Session{short, long, rotated} {
		mustCreate(t, s, sess)
	}
	// A rotation extends retention: the record must survive its first
	// retention instant.
	rotate(t, s, rotated.ID, rotated.RefreshJTI, session.Rotation{JTI: randomID(t), RetainUntil: now.Add(3 * time.Hour)}, now)

	n, err := sw.Sweep(t.Context(), now.Add(90*time.Minute))
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if n != 1 {
		t.Fatalf("Sweep removed %d records, want 1", n)
	}
	if _, err := s.Get(t.Context(), short.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("swept session: Get = %v, want ErrNotFound", err)
	}
	mustGet(t, s, long.ID)
	mustGet(t, s, rotated.ID)
	if n, err := sw.Sweep(t.Context(), now.Add(90*time.Minute)); err != nil || n != 0 {
		t.Fatalf("second Sweep: %d, %v; want 0, nil", n, err)
	}
	if n, err := sw.Sweep(t.Context(), now.Add(4*time.Hour)); err != nil || n != 2 {
		t.Fatalf("final Sweep: %d, %v; want 2, nil", n, err)
	}
}
