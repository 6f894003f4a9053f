package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/session"
)

// Thumbprints of two DPoP keys, as a session keeps them.
const (
	jktA = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	jktB = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
)

// testRotateBinds checks Rotation.JKT: the rotation that replaces the
// current jti binds a session that is not bound yet, in the same atomic
// step; nothing else binds or rebinds it.
func testRotateBinds(t *testing.T, newStore func(t *testing.T) session.Store) {
	type step struct {
		presented string // "current", "previous" or "forged"
		jkt       string
		grace     time.Duration
		want      session.Result
		wantJKT   string // the session's key after the step
	}
	tests := map[string]struct {
		bound string // the session's key at creation
		steps []step
	}{
		"the first rotation with a key binds": {steps: []step{
			{presented: "current", want: session.Rotated},
			{presented: "current", jkt: jktA, want: session.Rotated, wantJKT: jktA},
			{presented: "current", want: session.Rotated, wantJKT: jktA},
			{presented: "current", jkt: jktB, want: session.Rotated, wantJKT: jktA},
		}},
		"a bound session keeps its key": {bound: jktA, steps: []step{
			{presented: "current", jkt: jktB, want: session.Rotated, wantJKT: jktA},
		}},
		"a reuse binds nothing": {steps: []step{
			{presented: "forged", jkt: jktA, want: session.Reused},
		}},
		"a replay binds nothing": {steps: []step{
			{presented: "current", grace: time.Minute, want: session.Rotated},
			{presented: "previous", jkt: jktA, want: session.Replayed},
			{presented: "current", want: session.Rotated},
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			now := base()
			sess := newSession(t, now)
			sess.JKT = tc.bound
			mustCreate(t, s, sess)
			current, previous := sess.RefreshJTI, ""
			for n, st := range tc.steps {
				presented := map[string]string{"current": current, "previous": previous, "forged": randomID(t)}[st.presented]
				next := session.Rotation{JTI: randomID(t), RetainUntil: now.Add(30 * time.Minute), JKT: st.jkt}
				if st.grace > 0 {
					next.GraceUntil, next.Replay = now.Add(st.grace), []byte("replay")
				}
				if out := rotate(t, s, sess.ID, presented, next, now); out.Result != st.want {
					t.Fatalf("step %d: %v, want %v", n, out.Result, st.want)
				}
				if st.want == session.Rotated {
					previous, current = current, next.JTI
				}
				want := st.wantJKT
				if tc.bound != "" {
					want = tc.bound
				}
				if got := mustGet(t, s, sess.ID); got.JKT != want {
					t.Fatalf("step %d: session key %q, want %q", n, got.JKT, want)
				}
			}
		})
	}

	// Of concurrent rotations of one jti with different keys, the one
	// that rotates binds the session to its key.
	t.Run("concurrent", func(t *testing.T) {
		const workers = 20
		s := newStore(t)
		now := base()
		sess := newSession(t, now)
		sess.JKT = ""
		mustCreate(t, s, sess)
		outcomes := make([]session.Outcome, workers)
		errs := make([]error, workers)
		keys := make([]string, workers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w := range workers {
			keys[w] = randomID(t)
			next := session.Rotation{JTI: randomID(t), RetainUntil: now.Add(30 * time.Minute), JKT: keys[w]}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				outcomes[w], errs[w] = s.Rotate(t.Context(), sess.ID, sess.RefreshJTI, next, now)
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for w := range workers {
			if errs[w] != nil {
				t.Fatalf("worker %d: %v", w, errs[w])
			}
			if outcomes[w].Result == session.Rotated {
				if winner >= 0 {
					t.Fatalf("workers %d and %d both rotated", winner, w)
				}
				winner = w
			}
		}
		if winner < 0 {
			t.Fatal("no worker rotated")
		}
		if got := mustGet(t, s, sess.ID); got.JKT != keys[winner] {
			t.Fatalf("session key %q, want the winner's %q", got.JKT, keys[winner])
		}
	})
}
