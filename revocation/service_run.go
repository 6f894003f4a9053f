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

// maintainInterval is how often the index's lookup filters are checked for
// resizing (a cheap check unless they need it).
const maintainInterval = time.Second

// Run does the Service's background work until ctx is done: it drops
// expired entries, and with a shared store it follows the other replicas'
// revocations (subscription; incremental pull every ProbeInterval and
// after every reconnect, which reads only what was written since the last
// pull unless the store lost data; full resync every SyncInterval), writes
// back what it
// holds when the store lost data, and fails the index closed once the store
// has been unreachable for longer than MaxStaleness. Call it once.
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
	var probe, full <-chan time.Time
	if s.shared != nil {
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
			_ = s.pull(ctx, syncIncremental)
		case <-full:
			_ = s.pull(ctx, syncFull)
		case <-s.resync:
			// What the subscription missed is in the change log after the
			// cursor; a store that lost data makes the pull start over.
			_ = s.pull(ctx, syncIncremental)
		}
	}
}

// watchStaleness re-evaluates staleness every ProbeInterval, independently
// of pulls that may hang on an unresponsive store.
func (s *Service) watchStaleness(ctx context.Context) {
	t := time.NewTicker(s.opts.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.checkStaleness()
		}
	}
}

// follow applies the revocations other replicas announce, and asks Run for
// a full pull each time the subscription is (re)established.
func (s *Service) follow(ctx context.Context) {
	onEntry := func(e Entry) {
		s.apply(e, s.now(), true)
		s.metrics.setEntries(s.index)
	}
	// A subscription that fails at once (the store refuses connections)
	// would log every subscribeRetry.
	failures := logthrottle.New(s.log, slog.LevelWarn, "revocation subscription failed; retrying")
	onSubscribed := func() {
		failures.Resolve()
		select {
		case s.resync <- struct{}{}:
		default:
		}
	}
	for {
		err := s.shared.Subscribe(ctx, onEntry, onSubscribed)
		if ctx.Err() != nil {
			return
		}
		failures.Error(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(subscribeRetry):
		}
	}
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
