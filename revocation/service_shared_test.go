package revocation_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/revocation"
)

type replica struct {
	svc *revocation.Service
	reg *prometheus.Registry
}

// newReplica builds and runs a Service on the shared store with fast
// probes, as one replica of a deployment.
func newReplica(t *testing.T, store revocation.Shared, clock *testkit.Clock, opts revocation.Options) replica {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	opts.Clock = clock.Now
	opts.Metrics = revocation.NewMetrics(reg)
	if opts.ProbeInterval == 0 {
		opts.ProbeInterval = 5 * time.Millisecond
	}
	svc, err := revocation.NewService(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	runService(t, svc)
	return replica{svc: svc, reg: reg}
}

func jtiEntry(clock *testkit.Clock, v string) revocation.Entry {
	return revocation.Entry{Kind: revocation.KindJTI, Value: v, ExpiresAt: clock.Now().Unix() + 3600}
}

func TestSharedReplicasFollowEachOther(t *testing.T) {
	tests := map[string]struct {
		quiet bool // announcements lost: only the incremental pull carries the entry
	}{
		"announced":            {quiet: false},
		"announcement dropped": {quiet: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			clock := testkit.NewClock(clockStart)
			store := newFakeShared()
			store.setQuiet(tc.quiet)
			a := newReplica(t, store, clock, revocation.Options{})
			b := newReplica(t, store, clock, revocation.Options{})
			if err := a.svc.Revoke(t.Context(), jtiEntry(clock, "j1")); err != nil {
				t.Fatal(err)
			}
			eventually(t, "replica b enforces the revocation made through a", func() bool {
				return b.svc.Index().Check("", "j1", "", "", 0) == revocation.ErrRevoked
			})
			eventually(t, "sync lag observed on b", func() bool {
				return metricValue(t, b.reg, "jwt_authz_revocation_sync_lag_seconds", "") >= 1
			})
		})
	}
}

// A reconnect catches up with a pull from the cursor, not a full reload.
func TestSharedCatchUpOnReconnect(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	store := newFakeShared()
	a := newReplica(t, store, clock, revocation.Options{ProbeInterval: time.Hour, SyncInterval: time.Hour, MaxStaleness: 10 * time.Hour})
	// A full pull at start, an incremental one when the subscription is
	// first made.
	eventually(t, "pull after subscribing", func() bool {
		return metricValue(t, a.reg, "jwt_authz_revocation_syncs_total", "incremental", "success") >= 1
	})
	// Written while "disconnected": not announced, and no probe runs.
	store.setQuiet(true)
	if err := store.Put(t.Context(), jtiEntry(clock, "missed")); err != nil {
		t.Fatal(err)
	}
	store.reconnect()
	eventually(t, "entry missed while disconnected is applied after the reconnect", func() bool {
		return a.svc.Index().Check("", "missed", "", "", 0) == revocation.ErrRevoked
	})
	if n := metricValue(t, a.reg, "jwt_authz_revocation_syncs_total", "full", "success"); n != 1 {
		t.Fatalf("%v full pulls, want only the one at start", n)
	}
}

func TestSharedStaleness(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	store := newFakeShared()
	const maxStale = time.Minute
	a := newReplica(t, store, clock, revocation.Options{MaxStaleness: maxStale})
	if err := a.svc.Revoke(t.Context(), jtiEntry(clock, "revoked")); err != nil {
		t.Fatal(err)
	}

	store.setDown(true)
	eventually(t, "store_up drops to 0", func() bool {
		return metricValue(t, a.reg, "jwt_authz_revocation_store_up", "") == 0
	})
	clock.Advance(maxStale / 2)
	failClosed := func() (started, now float64) {
		return metricValue(t, a.reg, "jwt_authz_revocation_fail_closed_total", ""),
			metricValue(t, a.reg, "jwt_authz_revocation_failing_closed", "")
	}
	if started, now := failClosed(); started != 0 || now != 0 {
		t.Fatalf("within max_staleness: fail_closed_total %v, failing_closed %v, want 0 and 0", started, now)
	}
	if err := a.svc.Ready(); err != nil {
		t.Fatalf("Ready within max_staleness = %v, want nil", err)
	}
	if got := a.svc.Index().Check("", "fresh", "", "", 0); got != nil {
		t.Fatalf("within max_staleness: Check = %v, want the local copy to serve", got)
	}
	if got := a.svc.Index().Check("", "revoked", "", "", 0); got != revocation.ErrRevoked {
		t.Fatalf("within max_staleness: Check(revoked) = %v, want ErrRevoked", got)
	}
	if err := a.svc.Revoke(t.Context(), jtiEntry(clock, "while-down")); !errors.Is(err, revocation.ErrUnavailable) {
		t.Fatalf("Revoke while the store is down = %v, want ErrUnavailable", err)
	}

	clock.Advance(maxStale)
	eventually(t, "Check fails closed past max_staleness", func() bool {
		return a.svc.Index().Check("", "fresh", "", "", 0) == revocation.ErrUnavailable
	})
	err := a.svc.Ready()
	if !errors.Is(err, revocation.ErrUnavailable) || !strings.Contains(err.Error(), "unreachable for") || !strings.Contains(err.Error(), "max_staleness") {
		t.Fatalf("Ready past max_staleness = %v, want an explanation wrapping ErrUnavailable", err)
	}
	// Probes keep finding it stale: one start, counted before Check saw it.
	if started, now := failClosed(); started != 1 || now != 1 {
		t.Fatalf("past max_staleness: fail_closed_total %v, failing_closed %v, want 1 and 1", started, now)
	}

	store.setDown(false)
	eventually(t, "recovers by itself once the store answers", func() bool {
		return a.svc.Index().Check("", "fresh", "", "", 0) == nil && a.svc.Ready() == nil
	})
	if got := a.svc.Index().Check("", "revoked", "", "", 0); got != revocation.ErrRevoked {
		t.Fatalf("after recovery: Check(revoked) = %v", got)
	}
	if started, now := failClosed(); started != 1 || now != 0 {
		t.Fatalf("after recovery: fail_closed_total %v, failing_closed %v, want 1 and 0", started, now)
	}

	// A second stretch past max_staleness counts again.
	store.setDown(true)
	eventually(t, "store_up drops to 0 again", func() bool {
		return metricValue(t, a.reg, "jwt_authz_revocation_store_up", "") == 0
	})
	clock.Advance(2 * maxStale)
	eventually(t, "a second start of failing closed is counted", func() bool {
		started, now := failClosed()
		return started == 2 && now == 1
	})
}

// Readiness and Check agree: once the replica reports the local copy past
// max_staleness, Check fails closed at once, not at the next probe.
func TestSharedNotReadyFailsCheckClosedAtOnce(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	store := newFakeShared()
	const maxStale = time.Minute
	// No probe runs during the test (they come every maxStale/4 of real time).
	a := newReplica(t, store, clock, revocation.Options{MaxStaleness: maxStale, ProbeInterval: time.Hour, SyncInterval: time.Hour})
	eventually(t, "pull after subscribing", func() bool {
		return metricValue(t, a.reg, "jwt_authz_revocation_syncs_total", "incremental", "success") >= 1
	})
	if got := a.svc.Index().Check("", "fresh", "", "", 0); got != nil {
		t.Fatalf("fresh copy: Check = %v, want nil", got)
	}
	clock.Advance(maxStale + time.Second)
	if _, err := a.svc.Readiness(); !errors.Is(err, revocation.ErrUnavailable) {
		t.Fatalf("Readiness past max_staleness = %v, want ErrUnavailable", err)
	}
	if got := a.svc.Index().Check("", "fresh", "", "", 0); got != revocation.ErrUnavailable {
		t.Fatalf("reported not ready: Check = %v, want ErrUnavailable at once", got)
	}
}

func TestSharedUnreachableAtStart(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	store := newFakeShared()
	if err := store.Put(t.Context(), jtiEntry(clock, "old")); err != nil {
		t.Fatal(err)
	}
	store.setDown(true)
	reg := prometheus.NewPedanticRegistry()
	svc, err := revocation.NewService(store, revocation.Options{Clock: clock.Now, ProbeInterval: 5 * time.Millisecond, Metrics: revocation.NewMetrics(reg)})
	if err != nil {
		t.Fatalf("NewService with an unreachable shared store = %v, want a service that fails closed", err)
	}
	if started, now := metricValue(t, reg, "jwt_authz_revocation_fail_closed_total", ""), metricValue(t, reg, "jwt_authz_revocation_failing_closed", ""); started != 1 || now != 1 {
		t.Fatalf("store not reached at start: fail_closed_total %v, failing_closed %v, want 1 and 1", started, now)
	}
	if got := svc.Index().Check("", "anything", "", "", 0); got != revocation.ErrUnavailable {
		t.Fatalf("Check before the first sync = %v, want ErrUnavailable", got)
	}
	if err := svc.Ready(); err == nil || !strings.Contains(err.Error(), "not reached since start") {
		t.Fatalf("Ready before the first sync = %v", err)
	}
	runService(t, svc)
	store.setDown(false)
	eventually(t, "serves after the first successful sync", func() bool {
		return svc.Ready() == nil && svc.Index().Check("", "old", "", "", 0) == revocation.ErrRevoked &&
			svc.Index().Check("", "anything", "", "", 0) == nil
	})
	if now := metricValue(t, reg, "jwt_authz_revocation_failing_closed", ""); now != 0 {
		t.Fatalf("after the first sync: failing_closed %v, want 0", now)
	}
}

func TestSharedWritesBackAfterDataLoss(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	store := newFakeShared()
	a := newReplica(t, store, clock, revocation.Options{})
	b := newReplica(t, store, clock, revocation.Options{})
	var want []revocation.Entry
	for i := range 20 {
		r := a
		if i%2 == 1 {
			r = b
		}
		e := jtiEntry(clock, fmt.Sprint("j", i))
		if i == 7 {
			e = revocation.Entry{Kind: revocation.KindSub, Value: "user", Before: clock.Now().Unix(), ExpiresAt: clock.Now().Unix() + 60}
		}
		if err := r.svc.Revoke(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	for _, r := range []replica{a, b} {
		eventually(t, "both replicas hold all entries", func() bool {
			return r.svc.Index().Len(revocation.KindJTI) == 19 && r.svc.Index().Len(revocation.KindSub) == 1
		})
	}

	store.wipe()
	eventually(t, "every entry written back into the store", func() bool {
		for _, e := range want {
			if !store.has(e.Kind, e.Value) {
				return false
			}
		}
		return true
	})
	for _, r := range []replica{a, b} {
		if got := r.svc.Index().Check("", "j3", "", "", 0); got != revocation.ErrRevoked {
			t.Fatalf("after data loss: Check = %v, want ErrRevoked", got)
		}
	}
	restored := metricValue(t, a.reg, "jwt_authz_revocation_restored_entries_total", "") +
		metricValue(t, b.reg, "jwt_authz_revocation_restored_entries_total", "")
	if restored < float64(len(want)) {
		t.Fatalf("restored entries counted = %v, want at least %d", restored, len(want))
	}
}

func TestSharedExpiredEntriesLeaveIndexAndWriteBack(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	store := newFakeShared()
	a := newReplica(t, store, clock, revocation.Options{SweepInterval: 5 * time.Millisecond})
	now := clock.Now().Unix()
	if err := a.svc.Revoke(t.Context(), revocation.Entry{Kind: revocation.KindJTI, Value: "short", ExpiresAt: now + 10}); err != nil {
		t.Fatal(err)
	}
	if err := a.svc.Revoke(t.Context(), revocation.Entry{Kind: revocation.KindJTI, Value: "long", ExpiresAt: now + 1000}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(20 * time.Second)
	eventually(t, "expired entry swept", func() bool { return a.svc.Index().Len(revocation.KindJTI) == 1 })
	store.wipe()
	eventually(t, "unexpired entry written back", func() bool { return store.has(revocation.KindJTI, "long") })
	if store.has(revocation.KindJTI, "short") {
		t.Fatal("an expired entry was written back")
	}
}

// TestSharedWritesBackSessionSets: a session set's content lives in the
// index, not in the write-back ledger; the write-back takes it from there.
func TestSharedWritesBackSessionSets(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	store := newFakeShared()
	a := newReplica(t, store, clock, revocation.Options{})
	b := newReplica(t, store, clock, revocation.Options{})
	set := revocation.Entry{Kind: revocation.KindSIDSet, Provider: "corp", Value: revocation.NewSetID(),
		Set: revocation.NewSIDSet([]string{"s1", "s2", "s3"}), ExpiresAt: clock.Now().Unix() + 3600}
	if err := a.svc.Revoke(t.Context(), set); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the other replica holds the set", func() bool { return b.svc.Index().Len(revocation.KindSIDSet) == 1 })

	store.wipe()
	eventually(t, "the set written back with its content", func() bool {
		e, ok, err := store.Get(t.Context(), revocation.KindSIDSet, "corp", set.Value)
		return err == nil && ok && e.Set.Equal(set.Set)
	})
	if got := b.svc.Index().Check("corp", "", "s2", "", 0); got != revocation.ErrRevoked {
		t.Fatalf("Check = %v, want ErrRevoked", got)
	}
}
