package revocation

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// logStore is a Shared store whose writes are numbered in a change log,
// which the test announces (or not) by calling the Service's covered as a
// subscription would; it counts the entries its pulls read.
type logStore struct {
	Shared     // not called: only Pull, Head and Restore are
	generation string
	log        []Entry // log[i] has sequence number i+1
	heads      int     // Head calls
	pulls      int     // Pull calls
	read       int     // entries the pulls read
	down       bool
}

var errLogDown = errors.New("log store: connection refused")

func (l *logStore) write(n int) {
	for range n {
		l.log = append(l.log, Entry{Kind: KindJTI, Value: fmt.Sprintf("jti-%d", len(l.log)+1), ExpiresAt: time.Now().Add(time.Hour).Unix()})
	}
}

// Restore takes the write-back of a replica that saw the dataset change.
func (l *logStore) Restore(context.Context, []Entry) error { return nil }

func (l *logStore) Head(context.Context) (Cursor, error) {
	l.heads++
	if l.down {
		return Cursor{}, errLogDown
	}
	return Cursor{Generation: l.generation, Seq: uint64(len(l.log))}, nil
}

func (l *logStore) Pull(_ context.Context, from Cursor, fn func(Entry) error) (Cursor, bool, error) {
	l.pulls++
	if l.down {
		return from, false, errLogDown
	}
	reset := from.Generation != l.generation || from.Seq > uint64(len(l.log))
	start := from.Seq
	if reset {
		start = 0
	}
	for _, e := range l.log[start:] {
		l.read++
		if err := fn(e); err != nil {
			return from, reset, err
		}
	}
	return Cursor{Generation: l.generation, Seq: uint64(len(l.log))}, reset, nil
}

// newProbedService is a Service on l, subscribed once and pulled since,
// without Run: the test calls probe and covered itself.
func newProbedService(t *testing.T, l *logStore) *Service {
	t.Helper()
	s := &Service{store: l, shared: l, ledger: &ledger{}, index: newIndex(), opts: Options{MaxStaleness: time.Hour}.withDefaults()}
	s.log, s.now = s.opts.Logger, s.opts.Clock
	s.subscriptions = 1
	if err := s.pull(t.Context(), syncFull); err != nil {
		t.Fatal(err)
	}
	return s
}

// probeReads runs one probe and returns how many entries it read from
// the change log.
func probeReads(t *testing.T, s *Service, l *logStore) int {
	t.Helper()
	before := l.read
	if err := s.probe(t.Context()); err != nil {
		t.Fatalf("probe: %v", err)
	}
	return l.read - before
}

// holds fails t unless s enforces every entry l holds.
func (s *Service) holds(t *testing.T, l *logStore) {
	t.Helper()
	for _, e := range l.log {
		if !errors.Is(s.index.Check("", e.Value, "", "", 0), ErrRevoked) {
			t.Fatalf("%s is not applied", e.Value)
		}
	}
}

// deliver is the subscription bringing the writes numbered after to
// through.
func deliver(s *Service, l *logStore, after, through uint64) {
	for _, e := range l.log[after:through] {
		s.applyAnnounced(e)
	}
	s.covered(after, through)
}

// TestProbeLeavesProgressingSubscription: a subscription behind the store
// but progressing is not duplicated by the probe's log read, and what it
// has not brought one probe later is read then.
func TestProbeLeavesProgressingSubscription(t *testing.T) {
	l := &logStore{generation: "g1"}
	l.write(10)
	s := newProbedService(t, l)

	// Writes 11 to 30; the subscription has brought 11 to 15 so far.
	l.write(20)
	deliver(s, l, 10, 15)
	if n := probeReads(t, s, l); n != 0 {
		t.Fatalf("the probe read %d entries, want 0: the subscription is progressing", n)
	}
	// It brings 16 to 28, and 29 and 30 never arrive (the last messages
	// lost; no later one shows a gap).
	deliver(s, l, 15, 28)
	if n := probeReads(t, s, l); n != 2 {
		t.Fatalf("the probe read %d entries, want the 2 (29, 30) the previous probe saw written", n)
	}
	s.holds(t, l)
	if s.cursor.Seq != 30 {
		t.Fatalf("cursor at %d after the pull, want 30", s.cursor.Seq)
	}
	// In step again: the announcements carry the cursor, nothing is read.
	l.write(5)
	deliver(s, l, 30, 35)
	if n := probeReads(t, s, l); n != 0 {
		t.Fatalf("the probe read %d entries, want 0", n)
	}
	s.holds(t, l)
}

// TestProbeReadsWhenSubscriptionStalls: writes past the cursor and
// nothing brought since the previous probe: the log is read at once.
func TestProbeReadsWhenSubscriptionStalls(t *testing.T) {
	l := &logStore{generation: "g1"}
	l.write(3)
	s := newProbedService(t, l)
	if n := probeReads(t, s, l); n != 0 {
		t.Fatalf("the probe read %d entries with nothing written", n)
	}
	l.write(2)
	if n := probeReads(t, s, l); n != 2 {
		t.Fatalf("the probe read %d entries, want 2: the subscription brought nothing", n)
	}
	s.holds(t, l)
	// The same after probes that left the subscription alone.
	l.write(4)
	deliver(s, l, 5, 7)
	if n := probeReads(t, s, l); n != 0 {
		t.Fatalf("the probe read %d entries, want 0: the subscription is progressing", n)
	}
	deliver(s, l, 7, 9)
	if n := probeReads(t, s, l); n != 0 {
		t.Fatalf("the probe read %d entries, want 0: nothing written past the cursor", n)
	}
	l.write(1)
	if n := probeReads(t, s, l); n != 1 {
		t.Fatalf("the probe read %d entries, want 1: nothing came since the last probe", n)
	}
	s.holds(t, l)
}

// TestProbeReadsWhenCursorDoesNotFollow: a new dataset, a resubscription
// not yet pulled, numbers gone backwards, a failed pull: each makes the
// probe pull as before.
func TestProbeReadsWhenCursorDoesNotFollow(t *testing.T) {
	for name, change := range map[string]func(*Service, *logStore){
		"new dataset":    func(_ *Service, l *logStore) { l.generation = "g2" },
		"resubscribed":   func(s *Service, _ *logStore) { s.subscriptions++ },
		"numbers backed": func(s *Service, _ *logStore) { s.covered(0, 0) },
		"failing closed": func(s *Service, _ *logStore) { s.index.unavailable.Store(true) },
	} {
		t.Run(name, func(t *testing.T) {
			l := &logStore{generation: "g1"}
			l.write(3)
			s := newProbedService(t, l)
			l.write(2)
			deliver(s, l, 3, 4)
			change(s, l)
			pulls := l.pulls
			if err := s.probe(t.Context()); err != nil {
				t.Fatal(err)
			}
			if l.pulls != pulls+1 {
				t.Fatalf("the probe pulled %d times, want once", l.pulls-pulls)
			}
			s.holds(t, l)
		})
	}
	t.Run("failed pull", func(t *testing.T) {
		l := &logStore{generation: "g1"}
		l.write(3)
		s := newProbedService(t, l)
		l.down = true
		if err := s.probe(t.Context()); err == nil {
			t.Fatal("the probe of a store that is down succeeded")
		}
		l.down = false
		l.write(2)
		deliver(s, l, 3, 4)
		heads, pulls := l.heads, l.pulls
		if err := s.probe(t.Context()); err != nil {
			t.Fatal(err)
		}
		if l.pulls != pulls+1 || l.heads != heads {
			t.Fatalf("after a failed probe: %d pulls, %d position reads; want a pull only", l.pulls-pulls, l.heads-heads)
		}
		s.holds(t, l)
	})
}

// TestProbeKeepsStoreContact: a probe that reads only the position still
// counts as contact with the store, so that a busy replica does not fail
// closed after MaxStaleness; one that cannot reach the store does not.
func TestProbeKeepsStoreContact(t *testing.T) {
	l := &logStore{generation: "g1"}
	l.write(3)
	s := newProbedService(t, l)
	s.lastContact = time.Time{}
	l.write(2)
	deliver(s, l, 3, 4)
	if n := probeReads(t, s, l); n != 0 {
		t.Fatalf("the probe read %d entries, want 0", n)
	}
	if s.lastContact.IsZero() {
		t.Fatal("a probe that read the store's position did not count as contact")
	}
	l.down = true
	if err := s.probe(t.Context()); !errors.Is(err, errLogDown) {
		t.Fatalf("probe of a store that is down: %v", err)
	}
	if s.lastErr == nil {
		t.Fatal("a probe that failed was not recorded")
	}
}
