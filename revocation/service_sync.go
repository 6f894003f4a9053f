package revocation

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// restoreBatch is how many entries one Restore call writes back.
const restoreBatch = 500

// fullResyncEvery is how many SyncIntervals pass, at least, between two
// safety-net full listings of a replica that saw no reason for one; each
// replica adds up to half as much again at random, so that a fleet
// started together spreads them out.
const fullResyncEvery = 60

// fullResyncAfter returns the delay to the next safety-net full listing.
func fullResyncAfter(interval time.Duration) time.Duration {
	base := fullResyncEvery * interval
	return base + rand.N(base/2+1)
}

// fullDue reports whether the SyncInterval tick lists everything: after a
// resubscription or a failed pull (writes may have been missed in a way
// no reset or gap shows), and as a safety net every fullResyncEvery
// intervals or so.
func (s *Service) fullDue() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blind || !s.now().Before(s.nextFull)
}

// headReader is a Shared store that can tell its position (dataset and
// last write's sequence number) without reading its change log.
type headReader interface {
	Head(ctx context.Context) (Cursor, error)
}

// probe is the incremental pull of every ProbeInterval, which reads the
// change log only when the subscription may have missed a write. With a
// store that tells its position (headReader), a subscription that brought
// everything written before the previous probe and progressed since is
// left to bring what was written since: the probe reads the position
// only. Without that, a replica that processes its messages later than
// they arrive (a busy process) would read from the change log, at every
// probe, what its subscription has received and not yet applied, which
// makes it busier still.
//
// The probe reads the log (an incremental pull) when the cursor has not
// reached the position the previous probe saw (a write at least one
// interval old is missing), when the subscription brought nothing since
// the previous probe while the store has writes past the cursor, when the
// dataset is not the cursor's, and whenever the cursor does not follow
// the announcements (no successful pull since the subscription, lost
// numbers, a failed pull, a write-back pending), and while Check fails
// closed: only a pull makes the copy trusted again. A missed write with no
// gap behind it is then read one probe later than a pull at every probe
// would read it, at worst: within two ProbeIntervals, when its
// announcement was the last the subscription lost while others arrived.
// Gaps in the announcements' numbers are read at once by the
// subscription, as before, and a resubscription still pulls at once.
func (s *Service) probe(ctx context.Context) error {
	hr, ok := s.shared.(headReader)
	s.mu.Lock()
	cur, seen, seenCursor := s.cursor, s.probedHead, s.probedCursor
	follows := ok && s.synced && s.lastErr == nil && !s.restorePending && !s.lost &&
		s.pulledOn == s.subscriptions && cur.Generation != "" && seen.Generation == cur.Generation &&
		!s.index.unavailable.Load()
	s.mu.Unlock()
	if !follows {
		return s.pull(ctx, syncIncremental)
	}
	head, err := hr.Head(ctx)
	if err != nil {
		s.failed(syncIncremental, fmt.Errorf("probe revocations: %w", err))
		return err
	}
	missed := cur.Seq < seen.Seq || cur.Seq == seenCursor && head.Seq > cur.Seq
	if head.Generation != cur.Generation || head.Seq < cur.Seq || missed {
		return s.pull(ctx, syncIncremental)
	}
	s.mu.Lock()
	s.probedHead, s.probedCursor = head, cur.Seq
	s.mu.Unlock()
	s.contacted(syncIncremental)
	return nil
}

// pull brings the index up to date with the shared store: everything since
// the last pull (incremental) or everything (full). When the store reports
// that its dataset changed under us, pull writes back every entry this
// replica holds before declaring the store healthy again.
func (s *Service) pull(ctx context.Context, mode string) error {
	s.mu.Lock()
	from, wasSynced, restore, subs, lost := s.cursor, s.synced, s.restorePending, s.subscriptions, s.lost
	s.mu.Unlock()
	if lost {
		from.Generation = "" // the dataset is not the one the cursor is in
	}
	if mode == syncFull {
		// Same dataset, from its first write: a full listing, but not a
		// reason to write back.
		from.Seq = 0
	}

	next, reset, err := s.shared.Pull(ctx, from, func(e Entry) error {
		s.apply(e, s.now(), wasSynced)
		return nil
	})
	s.metrics.setEntries(s.index)
	if err != nil {
		s.failed(mode, fmt.Errorf("pull revocations: %w", err))
		return err
	}
	if reset && wasSynced && !restore {
		s.log.Warn("shared revocation store lost or may have lost data; writing back local entries",
			"old_generation", from.Generation, "new_generation", next.Generation)
		restore = true
	}
	s.mu.Lock()
	if lost {
		s.lost = false
	}
	if !reset && next.Generation == s.cursor.Generation && s.cursor.Seq > next.Seq {
		// Announcements carried the cursor further while we pulled.
		next.Seq = s.cursor.Seq
	}
	s.cursor = next
	s.pulledOn = subs
	s.probedHead, s.probedCursor = next, next.Seq
	s.restorePending = restore
	if mode == syncFull || reset {
		s.blind = false
		s.nextFull = s.now().Add(fullResyncAfter(s.opts.SyncInterval))
	}
	s.mu.Unlock()

	// The index holds everything the store does (and what this replica
	// holds besides): it is trusted again at once, before the write-back,
	// which only the other replicas need.
	s.contacted(mode)

	if restore {
		n, err := s.restore(ctx)
		s.metrics.restoredEntries(n)
		if err != nil {
			s.failed(syncRestore, fmt.Errorf("write back revocations: %w", err))
			return err
		}
		s.metrics.synced(syncRestore, nil, s.now())
		s.log.Info("revocation entries written back into the shared store", "entries", n)
		s.mu.Lock()
		s.restorePending = false
		s.mu.Unlock()
	}
	return nil
}

// contacted records a successful synchronisation: the store answered and
// the index is in step with it (or, after a probe, on its way).
func (s *Service) contacted(mode string) {
	now := s.now()
	s.mu.Lock()
	recovered := !s.synced || s.lastErr != nil
	if recovered {
		s.log.Info("revocation store reachable; index in step", "mode", mode)
	}
	s.synced = true
	s.lastContact = now
	s.lastErr = nil
	s.failClosedLocked(nil)
	s.mu.Unlock()
	s.metrics.setStoreUp(true)
	s.metrics.synced(mode, nil, now)
	if recovered && s.opts.OnChange != nil {
		s.opts.OnChange()
	}
}

// failed records a failed synchronisation and fails the index closed if
// the store has now been away for too long.
func (s *Service) failed(mode string, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	s.metrics.synced(mode, err, s.now())
	s.metrics.setStoreUp(false)
	s.mu.Lock()
	first := s.lastErr == nil
	s.lastErr = err
	s.blind = true
	s.mu.Unlock()
	if first {
		s.log.Warn("revocation store unreachable; the local copy serves until max_staleness",
			"err", err, "max_staleness", s.opts.MaxStaleness)
	}
	s.checkStaleness()
}

// checkStaleness fails the index closed when the shared store has been
// unreachable for longer than MaxStaleness, and returns the time left
// until it would be (zero once it is).
func (s *Service) checkStaleness() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	reason := s.staleLocked(now)
	s.failClosedLocked(reason)
	if reason != nil {
		return 0
	}
	return s.lastContact.Add(s.opts.MaxStaleness).Sub(now)
}

// failClosedLocked makes Check fail closed when reason (why the state
// cannot be trusted) is not nil or the Service is closed, and answer from
// the index otherwise. The caller holds mu, so that a verdict of
// staleness and a pull's success never cross.
func (s *Service) failClosedLocked(reason error) {
	if reason != nil {
		// Counted before Check can see it, so that a scrape after a
		// store_unavailable answer shows it.
		s.metrics.setFailingClosed(true, !s.index.unavailable.Load())
	}
	was := s.index.unavailable.Swap(reason != nil || s.isClosed.Load())
	if reason == nil {
		s.metrics.setFailingClosed(false, false)
	}
	if reason != nil && !was {
		s.log.Error("revocation state stale; denying requests until the store answers", "reason", reason)
	}
}

// restore writes every entry this replica holds back into the shared
// store and returns how many it wrote.
func (s *Service) restore(ctx context.Context) (int, error) {
	now := s.now().Unix()
	batch := make([]Entry, 0, restoreBatch)
	written := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := s.shared.Restore(ctx, batch); err != nil {
			return err
		}
		written += len(batch)
		batch = batch[:0]
		return nil
	}
	err := each(s.ledger.snapshot(), func(e Entry) error {
		if e.ExpiresAt <= now || !s.index.current(e) {
			return nil
		}
		if e.Kind == KindSIDSet {
			// The ledger keeps a set's record; the index, its content.
			e.Set, _, _ = s.index.sets.get(e.Provider, e.Value)
		}
		batch = append(batch, e)
		if len(batch) == restoreBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return written, err
}
