package revocation

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/logthrottle"
)

// subscribeRetry is the pause before subscribing again after Subscribe
// gave up.
const subscribeRetry = time.Second

// staleRetry is how often a replica whose Check fails closed (the shared
// store not reached since start, or for longer than MaxStaleness) tries
// again, instead of waiting for the next probe or the subscription's
// retry: it pulls (which makes the copy trusted again) and subscribes
// within staleRetry of the store answering again, for example after a
// failover that outlasted MaxStaleness. Only such a replica does, so a
// thousand replicas of a healthy deployment pull no more often.
const staleRetry = 100 * time.Millisecond

// maintainInterval is how often the index's lookup filters are checked for
// resizing (a cheap check unless they need it).
const maintainInterval = time.Second

// Run does the Service's background work until ctx is done: it drops
// expired entries, and with a shared store it follows the other replicas'
// revocations, writes back what it holds when the store lost data, and
// fails the index closed once the store has been unreachable for longer
// than MaxStaleness. Call it once.
//
// Following: the subscription applies announcements as they come, and
// its cursor (the position in the store's numbered writes) follows them
// when a batch continues from it. An incremental pull every ProbeInterval
// and after every reconnect reads what was written after the cursor: with
// announcements flowing that is nothing, one command comparing sequence
// numbers; after a lost message, the entries it carried. The probe leaves
// to a progressing subscription the writes it is still delivering (see
// probe). A store that lost
// data (new dataset marker or server run_id, counter behind the cursor)
// makes the pull read everything and write back.
//
// The full resync (every entry read again) is the fallback. Every write
// takes the next sequence number and moves its entry to it in the change
// log; entries leave the log only when they expire, which the index drops
// by itself; nothing else is deleted. So an incremental pull from a
// cursor in an unchanged dataset misses nothing, and a changed dataset
// shows itself. What it cannot see is a dataset that lost writes with no
// sign: restored from an older snapshot whose server run_id cannot be read
// (an ACL without INFO), its counter past the cursor again by the next
// pull. That takes a restart or a fail-over, which drops the subscription,
// or a store the pulls could not reach: after a resubscription or a failed
// pull, the next SyncInterval tick reads everything. Otherwise a full
// resync runs once every 60 to 90 SyncIntervals, at a random point per
// replica, against defects; at a thousand replicas, reading every stored
// entry every SyncInterval was the larger part of the store's load.
func (s *Service) Run(ctx context.Context) {
	if !s.running.CompareAndSwap(false, true) {
		s.log.Error("revocation service: Run called twice")
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()

	sweep := time.NewTicker(s.opts.SweepInterval)
	defer sweep.Stop()
	maintain := time.NewTicker(maintainInterval)
	defer maintain.Stop()
	var probe, full, stale <-chan time.Time
	if s.shared != nil {
		st := time.NewTicker(staleRetry)
		defer st.Stop()
		stale = st.C
		wg.Go(func() { s.follow(ctx) })
		wg.Go(func() { s.watchStaleness(ctx) })
		pt := time.NewTicker(s.opts.ProbeInterval)
		defer pt.Stop()
		ft := time.NewTicker(s.opts.SyncInterval)
		defer ft.Stop()
		probe, full = pt.C, ft.C
	}

	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			s.sweep(ctx)
		case <-maintain.C:
			s.index.maintain()
		case <-probe:
			_ = s.probe(ctx)
		case <-stale:
			if s.index.unavailable.Load() && !s.isClosed.Load() {
				_ = s.pull(ctx, syncIncremental)
			}
		case <-full:
			if s.fullDue() {
				_ = s.pull(ctx, syncFull)
			}
		case <-s.resync:
			// What the subscription missed is in the change log after the
			// cursor; a store that lost data makes the pull start over.
			_ = s.pull(ctx, syncIncremental)
		}
	}
}

// watchStaleness re-evaluates staleness independently of pulls that may
// hang on an unresponsive store: at the moment the local copy reaches
// MaxStaleness, and at least every ProbeInterval.
func (s *Service) watchStaleness(ctx context.Context) {
	t := time.NewTimer(s.opts.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			left := s.checkStaleness()
			if left <= 0 {
				left = s.opts.ProbeInterval
			}
			// Just past the deadline, so that the check finds it passed.
			t.Reset(min(left+time.Millisecond, s.opts.ProbeInterval))
		}
	}
}

// follow applies the revocations other replicas announce, and asks Run for
// a full pull each time the subscription is (re)established.
func (s *Service) follow(ctx context.Context) {
	onEntry := s.applyAnnounced
	// A subscription that fails at once (the store refuses connections)
	// would log every subscribeRetry.
	failures := logthrottle.New(s.log, slog.LevelWarn, "revocation subscription failed; retrying")
	onCovered := s.covered
	onSubscribed := func() {
		s.mu.Lock()
		s.subscriptions++
		if s.subscriptions > 1 {
			s.blind = true
		}
		s.mu.Unlock()
		failures.Resolve()
		select {
		case s.resync <- struct{}{}:
		default:
		}
	}
	for {
		err := s.shared.Subscribe(ctx, onEntry, onCovered, onSubscribed)
		if ctx.Err() != nil {
			return
		}
		failures.Error(err)
		wait := subscribeRetry
		if s.index.unavailable.Load() {
			wait = staleRetry
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// covered is the subscription's onCovered: the cursor follows the
// announcements when they continue from it.
func (s *Service) covered(after, through uint64) {
	s.mu.Lock()
	c := &s.cursor
	if through == 0 {
		s.lost = true
	} else if !s.lost && c.Generation != "" && s.pulledOn == s.subscriptions && c.Seq >= after && through > c.Seq {
		c.Seq = through
	}
	s.mu.Unlock()
}

// applyAnnounced applies e, delivered by the subscription. Every replica
// does it for every entry any replica writes: it stays free of allocations
// and of locks other than the index shard's and the ledger's.
func (s *Service) applyAnnounced(e Entry) {
	s.apply(e, s.now(), true)
	s.metrics.setEntries(s.index)
}

// sweep drops expired entries from the index, the write-back ledger and the
// store.
func (s *Service) sweep(ctx context.Context) {
	now := s.now()
	removed := s.index.sweep(now)
	if s.ledger != nil {
		live := 0
		for _, k := range Kinds() {
			live += s.index.Len(k)
		}
		// Superseded and expired records accumulate; rewrite once they are
		// a quarter of the ledger.
		if recs := s.ledger.records(); recs-live > live/4+1024 {
			s.ledger.compact(func(e Entry) bool {
				return e.ExpiresAt > now.Unix() && s.index.current(e)
			})
		}
	}
	s.metrics.setEntries(s.index)
	n, err := s.store.DeleteExpired(ctx, now)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("delete expired revocations", "err", err)
		}
		return
	}
	if removed > 0 || n > 0 {
		s.log.Debug("expired revocations dropped", "index", removed, "store", n)
	}
}
