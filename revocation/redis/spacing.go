package redis

import (
	"context"
	"sync"
	"time"
)

// flusher is the one flush a writer schedules for the entries putScript
// left pending: when the marker of the last message expires, flushScript
// announces whatever is pending then (every writer's), unless a write
// did so before.
type flusher struct {
	mu      sync.Mutex
	timer   *time.Timer // nil: none scheduled
	due     time.Time
	closed  bool
	failing bool // the last flush failed
}

// schedule makes sure a flush runs within after: it keeps a flush that
// is due sooner, else schedules one.
func (f *flusher) schedule(s *Store, after time.Duration) {
	due := time.Now().Add(after)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	if f.timer != nil {
		// A flush due sooner runs and schedules the next one if needed;
		// one that has fired already runs after the pending entries were
		// written, and sees them.
		if !f.due.After(due) || !f.timer.Stop() {
			return
		}
	}
	f.due = due
	f.timer = time.AfterFunc(after, func() { f.run(s) })
}

// run is the scheduled flush.
func (f *flusher) run(s *Store) {
	f.mu.Lock()
	f.timer = nil
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	wait, err := s.flushPending(ctx)
	f.mu.Lock()
	changed := f.failing != (err != nil)
	f.failing = err != nil
	f.mu.Unlock()
	if err != nil {
		// The entries are stored: the next write announces them, and
		// every replica's pull reads them meanwhile.
		if changed {
			s.log.Warn("revocation announcements: announcing deferred revocations failed; replicas read them on their next pull", "err", err)
		}
		return
	}
	if wait > 0 {
		f.schedule(s, wait)
	}
}

// close stops the scheduled flush.
func (f *flusher) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.timer != nil {
		f.timer.Stop()
		f.timer = nil
	}
}

// flushPending runs flushScript and returns how long until the marker
// expires, if entries are still pending.
func (s *Store) flushPending(ctx context.Context) (time.Duration, error) {
	sharded, err := s.useSharded(ctx)
	if err != nil {
		return 0, err
	}
	script := flushScript
	if sharded {
		script = sflushScript
	}
	ms, err := script.Run(ctx, s.c, []string{s.seqKey, s.pendingKey, s.stateKey, s.markerKey}, s.channel, intervalMillis(s.batches.intervalNow())).Int64()
	if err != nil || ms <= 0 {
		return 0, err
	}
	return s.retryAfter(ms), nil
}

// retryAfter is when to flush entries left pending, given the
// milliseconds until the marker expires: then, or after this writer's own
// interval (in whole milliseconds, as its marker would be) if that is
// sooner (a writer with a longer interval set it).
func (s *Store) retryAfter(ms int64) time.Duration {
	if i := intervalMillis(s.batches.intervalNow()); i > 0 {
		ms = min(ms, i)
	}
	return time.Duration(ms) * time.Millisecond
}

// intervalMillis is d in whole milliseconds (the marker's PX), rounded
// down but at least 1: 0 for none. Rounded down, a lone writer's next
// batch, an interval after its previous one, finds the marker gone rather
// than waiting on it for the fraction of a millisecond left; below a
// millisecond, its batches are further apart than that anyway (the 2 ms
// delay).
func intervalMillis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return max(1, int64(d/time.Millisecond))
}
