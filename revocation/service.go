package revocation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Service keeps an Index in step with a Store: it is what the server wires
// between the admin API, the token issuer (which revokes sessions) and the
// ext_authz Check path (which reads Index).
type Service struct {
	store   Store
	shared  Shared  // store, when several replicas share it; else nil
	ledger  *ledger // full entries for write-back; only with a shared store
	index   *Index
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time
	opts    Options

	// resync asks Run for a pull from the cursor: the subscription was
	// (re)established and may have missed writes.
	resync   chan struct{}
	running  atomic.Bool
	isClosed atomic.Bool
	closed   sync.Once
	err      error // from Close

	mu             sync.Mutex
	cursor         Cursor    // position in the shared store's writes
	synced         bool      // a pull succeeded at least once
	lastContact    time.Time // end of the last successful pull
	lastErr        error     // of the last failed pull
	restorePending bool      // the shared store lost data; write back what we hold

	// subscriptions counts the subscriptions established; pulledOn is its
	// value when the last successful pull started. The cursor follows the
	// announcements only while they are equal: a pull has placed it in
	// the dataset the current subscription is connected to.
	subscriptions, pulledOn uint64
	// lost: the subscription saw the store's write numbers go backwards;
	// the next pull starts over (as if the dataset changed) and writes back.
	lost bool
	// blind: since the last full listing the replica may have missed
	// writes that neither a reset nor a gap shows (a resubscription, a
	// failed pull); the next SyncInterval tick lists everything.
	blind bool
	// nextFull is when the safety-net full listing is due regardless.
	nextFull time.Time
	// probedHead is the store's position the last probe or pull saw, and
	// probedCursor the cursor then (see probe).
	probedHead   Cursor
	probedCursor uint64
}

// NewService builds a Service on store and loads every unexpired entry into
// its index.
//
// With a local store (memory, bolt) a failed load is an error. With a
// shared store an unreachable server is not: the Service starts failing
// closed (Check returns ErrUnavailable, Ready says why) and Run keeps
// trying, so a replica can start while Redis is briefly away.
func NewService(store Store, opts Options) (*Service, error) {
	if store == nil {
		return nil, errors.New("revocation: nil store")
	}
	opts = opts.withDefaults()
	s := &Service{
		store:   store,
		index:   newIndex(),
		log:     opts.Logger,
		metrics: opts.Metrics,
		now:     opts.Clock,
		opts:    opts,
		resync:  make(chan struct{}, 1),
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	if sh, ok := store.(Shared); ok {
		s.shared = sh
		s.ledger = &ledger{}
		if err := s.pull(ctx, syncFull); err != nil {
			s.log.Warn("revocation store unreachable at start; denying until it answers",
				"err", err, "max_staleness", opts.MaxStaleness)
		}
		s.index.maintain()
		s.log.Info("revocation index loaded", "shared", true,
			"jti", s.index.Len(KindJTI), "sid", s.index.Len(KindSID), "sub", s.index.Len(KindSub),
			"provider", s.index.Len(KindProvider), "sid_set", s.index.Len(KindSIDSet))
		return s, nil
	}

	now := s.now()
	if err := store.List(ctx, now, func(e Entry) error {
		s.apply(e, now, false)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("load revocations: %w", err)
	}
	s.index.maintain()
	s.metrics.setEntries(s.index)
	s.metrics.setStoreUp(true)
	s.log.Info("revocation index loaded", "shared", false,
		"jti", s.index.Len(KindJTI), "sid", s.index.Len(KindSID), "sub", s.index.Len(KindSub),
		"provider", s.index.Len(KindProvider), "sid_set", s.index.Len(KindSIDSet))
	return s, nil
}

// Index returns the index that Check reads. It stays the same for the
// Service's life.
func (s *Service) Index() *Index { return s.index }

// Revoke records e durably in the store, then applies it to the local index;
// with a shared store, the store announces it to the other replicas in the
// same atomic write, so a stored revocation is never left unannounced. When
// Revoke returns nil the revocation is durable and enforced here.
//
// A zero CreatedAt is set to now. Errors: ErrInvalidEntry for an entry that
// fails Validate or has already expired; ErrUnavailable (wrapping the
// store's error) when the store could not record it; ctx's error when ctx
// ended first. Each revocation is audit-logged with its actor (see
// WithActor; "internal" when none), kind and IDHash, never the identifier
// itself.
func (s *Service) Revoke(ctx context.Context, e Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	now := s.now()
	if e.ExpiresAt <= now.Unix() {
		return fmt.Errorf("%w: already expired", ErrInvalidEntry)
	}
	if e.CreatedAt == 0 {
		e.CreatedAt = now.UnixMilli()
	}
	if err := s.store.Put(ctx, e); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("record %s revocation: %w", e.Kind, ctxErr)
		}
		s.metrics.setStoreUp(false)
		s.log.Error("revocation not recorded", "kind", e.Kind, "id_hash", IDHash(e.Value), "err", err)
		return fmt.Errorf("record %s revocation: %w: %w", e.Kind, ErrUnavailable, err)
	}
	if s.shared == nil {
		s.metrics.setStoreUp(true)
	}
	s.apply(e, now, false)
	s.metrics.setEntries(s.index)
	s.metrics.revoked(e.Kind)

	actor, ok := ActorFrom(ctx)
	if !ok || actor.Name == "" {
		actor.Name = "internal"
	}
	attrs := []any{
		"audit", "revocation",
		"actor", actor.Name,
		"remote_addr", actor.RemoteAddr,
		"kind", e.Kind,
		"id_hash", IDHash(e.Value),
		"expires_at", time.Unix(e.ExpiresAt, 0).UTC(),
	}
	if e.Kind == KindProvider {
		// A provider name is configuration, not an identifier of a user.
		attrs = append(attrs, "provider", e.Value)
	} else if e.Provider != "" {
		attrs = append(attrs, "provider", e.Provider)
	}
	if e.Kind.hasCutoff() {
		attrs = append(attrs, "before", time.Unix(e.Before, 0).UTC())
	}
	if e.Kind == KindSIDSet {
		// A set's identifier is random, not a user's: logged as is.
		attrs = append(attrs, "set_id", e.Value, "sessions", e.Set.Len())
	}
	s.log.Info("revocation recorded", attrs...)
	return nil
}

// Lookup returns the unexpired entry of kind for value, scoped to provider
// ("" for the entry of every provider), from the store. The boolean is
// false when there is none. It fails with ErrInvalidEntry for a malformed
// query and ErrUnavailable when the store cannot answer.
func (s *Service) Lookup(ctx context.Context, kind Kind, provider, value string) (Entry, bool, error) {
	if !kind.Valid() || value == "" || len(value) > MaxValueBytes ||
		(provider != "" && (!ValidProviderName(provider) || kind == KindJTI || kind == KindProvider)) {
		return Entry{}, false, fmt.Errorf("%w: bad lookup", ErrInvalidEntry)
	}
	e, ok, err := s.store.Get(ctx, kind, provider, value)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return Entry{}, false, fmt.Errorf("look up %s revocation: %w", kind, ctxErr)
		}
		return Entry{}, false, fmt.Errorf("look up %s revocation: %w: %w", kind, ErrUnavailable, err)
	}
	if !ok || e.ExpiresAt <= s.now().Unix() {
		return Entry{}, false, nil
	}
	return e, true, nil
}

// Ready returns nil when the revocation state can be trusted, or an error
// wrapping ErrUnavailable that says why not (for /readyz): a shared store
// never reached since start, or unreachable for longer than MaxStaleness.
// A local store is always ready. A state found untrustworthy also fails
// Check closed from then on (until a pull succeeds), so a replica never
// reports itself not ready while still answering from a stale copy.
func (s *Service) Ready() error {
	_, err := s.Readiness()
	return err
}

// Readiness is Ready with a deadline: while the revocation state can be
// trusted it returns when that ends unless a pull succeeds first (zero for
// a local store, which never goes stale).
func (s *Service) Readiness() (until time.Time, err error) {
	if s.shared == nil {
		return time.Time{}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.staleLocked(s.now()); err != nil {
		s.failClosedLocked(err)
		return time.Time{}, err
	}
	return s.lastContact.Add(s.opts.MaxStaleness), nil
}

// staleLocked reports why the index cannot be trusted at now, or nil.
func (s *Service) staleLocked(now time.Time) error {
	if !s.synced {
		return fmt.Errorf("%w: shared store not reached since start: %v", ErrUnavailable, s.lastErr)
	}
	if age := now.Sub(s.lastContact); age > s.opts.MaxStaleness {
		return fmt.Errorf("%w: shared store unreachable for %s (max_staleness %s): %v",
			ErrUnavailable, age.Truncate(time.Second), s.opts.MaxStaleness, s.lastErr)
	}
	return nil
}

// Close closes the store. Cancel Run's context first. Close is idempotent.
func (s *Service) Close() error {
	s.closed.Do(func() {
		s.mu.Lock()
		s.isClosed.Store(true)
		s.index.setUnavailable(true)
		s.mu.Unlock()
		s.err = s.store.Close()
	})
	return s.err
}

// apply adds e to the index (and the write-back ledger) unless it expired
// at now or is malformed. observeLag records the time since its creation,
// for entries arriving from other replicas.
func (s *Service) apply(e Entry, now time.Time, observeLag bool) {
	if e.ExpiresAt <= now.Unix() || e.Validate() != nil {
		return
	}
	merged, changed := s.index.add(e)
	if !changed {
		return
	}
	if s.ledger != nil {
		s.ledger.add(merged)
	}
	if observeLag && e.CreatedAt > 0 {
		s.metrics.observeLag(now.Sub(time.UnixMilli(e.CreatedAt)))
	}
}
