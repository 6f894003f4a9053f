package revocation_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/revocation"
)

// countingShared counts the pulls made of a fakeShared.
type countingShared struct {
	*fakeShared
	pulls atomic.Int64
}

func (c *countingShared) Pull(ctx context.Context, from revocation.Cursor, fn func(revocation.Entry) error) (revocation.Cursor, bool, error) {
	c.pulls.Add(1)
	return c.fakeShared.Pull(ctx, from, fn)
}

// A replica that fails closed does not wait for its next probe to trust
// its copy again: with probes 15 minutes apart, it serves within moments
// of the store answering.
func TestSharedFailingClosedRecoversBeforeNextProbe(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	fake := newFakeShared()
	if err := fake.Put(t.Context(), jtiEntry(clock, "old")); err != nil {
		t.Fatal(err)
	}
	fake.setDown(true)
	store := &countingShared{fakeShared: fake}
	svc, err := revocation.NewService(store, revocation.Options{
		Clock: clock.Now, MaxStaleness: time.Hour, ProbeInterval: 15 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	runService(t, svc)
	// The pull the subscription asks for at start fails: the store is down.
	before := store.pulls.Load()
	eventually(t, "a pull fails while the store is down", func() bool { return store.pulls.Load() > before })
	if got := svc.Index().Check("", "anything", "", "", 0); got != revocation.ErrUnavailable {
		t.Fatalf("Check while the store was never reached = %v, want ErrUnavailable", got)
	}
	fake.setDown(false)
	eventually(t, "serves again without waiting for the next probe", func() bool {
		return svc.Ready() == nil && svc.Index().Check("", "anything", "", "", 0) == nil &&
			svc.Index().Check("", "old", "", "", 0) == revocation.ErrRevoked
	})
}

// restoreFailing is a fakeShared whose write-back fails.
type restoreFailing struct{ *fakeShared }

func (restoreFailing) Restore(context.Context, []revocation.Entry) error { return errDown }

// A replica failing closed is trusted again as soon as a pull succeeds,
// before its write-back: the index holds everything the store does, and
// the write-back is for the other replicas. Here the write-back keeps
// failing, and the replica serves all the same, revoked entries denied.
func TestSharedInStepBeforeWriteBack(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	fake := newFakeShared()
	store := restoreFailing{fake}
	const maxStale = time.Minute
	a := newReplica(t, store, clock, revocation.Options{MaxStaleness: maxStale})
	if err := a.svc.Revoke(t.Context(), jtiEntry(clock, "revoked")); err != nil {
		t.Fatal(err)
	}
	fake.setDown(true)
	clock.Advance(2 * maxStale)
	eventually(t, "Check fails closed past max_staleness", func() bool {
		return a.svc.Index().Check("", "fresh", "", "", 0) == revocation.ErrUnavailable
	})
	fake.wipe() // back without its data: the pull starts over and writes back
	fake.setDown(false)
	eventually(t, "serves again although the write-back fails", func() bool {
		return a.svc.Index().Check("", "fresh", "", "", 0) == nil
	})
	if got := a.svc.Index().Check("", "revoked", "", "", 0); got != revocation.ErrRevoked {
		t.Fatalf("after the pull: Check(revoked) = %v, want ErrRevoked", got)
	}
	if restored := metricValue(t, a.reg, "jwt_authz_revocation_syncs_total", "restore", "error"); restored == 0 {
		t.Fatalf("no failed write-back counted; the test did not exercise it")
	}
}
