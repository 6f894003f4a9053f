package session_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/session"
)

// countingSweeper counts Sweep calls and records the instant passed.
type countingSweeper struct {
	calls atomic.Int64
	at    atomic.Int64
}

func (c *countingSweeper) Sweep(_ context.Context, now time.Time) (int, error) {
	c.at.Store(now.Unix())
	c.calls.Add(1)
	return 1, nil
}

func TestSweepEvery(t *testing.T) {
	sw := &countingSweeper{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	fixed := time.Unix(1_900_000_000, 0)
	go func() {
		defer close(done)
		session.SweepEvery(ctx, sw, time.Millisecond, func() time.Time { return fixed }, nil)
	}()
	for sw.calls.Load() < 2 {
		select {
		case <-t.Context().Done():
			t.Fatal("no sweep before the test deadline")
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	<-done
	if sw.at.Load() != fixed.Unix() {
		t.Fatalf("swept at %d, want the injected clock's %d", sw.at.Load(), fixed.Unix())
	}
}

func TestSweepEveryDisabled(t *testing.T) {
	sw := &countingSweeper{}
	session.SweepEvery(t.Context(), sw, 0, nil, nil) // returns at once
	if sw.calls.Load() != 0 {
		t.Fatal("swept with a zero interval")
	}
}

func TestResultString(t *testing.T) {
	tests := map[session.Result]string{
		session.Rotated: "rotated", session.Replayed: "replayed", session.Reused: "reused",
		session.Revoked: "revoked", session.Expired: "expired", session.NotFound: "not_found", 0: "unknown",
	}
	for r, want := range tests {
		if r.String() != want {
			t.Fatalf("%d.String() = %q, want %q", int(r), r.String(), want)
		}
	}
}
