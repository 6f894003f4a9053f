package revocation_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/revocation/memory"
)

// Readiness says until when a shared store's copy can be trusted, and
// OnChange tells when it becomes trustworthy again.
func TestReadinessDeadline(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	store := newFakeShared()
	store.setDown(true)
	changed := make(chan struct{}, 8)
	svc, err := revocation.NewService(store, revocation.Options{
		Clock: clock.Now, MaxStaleness: time.Minute, ProbeInterval: 5 * time.Millisecond,
		OnChange: func() { changed <- struct{}{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Readiness(); !errors.Is(err, revocation.ErrUnavailable) {
		t.Fatalf("before the first sync: %v", err)
	}
	runService(t, svc)
	store.setDown(false)
	<-changed
	until, err := svc.Readiness()
	if err != nil || !until.Equal(clockStart.Add(time.Minute)) {
		t.Fatalf("after the first sync: %v %v", until, err)
	}

	local, err := revocation.NewService(memory.New(nil), revocation.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	if until, err := local.Readiness(); err != nil || !until.IsZero() {
		t.Fatalf("local store: %v %v", until, err)
	}
}
