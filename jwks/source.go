package jwks

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Source serves the keys of one provider whose JWKS is fetched from a URL,
// found through discovery, or read from a file. Create it with New, load it
// with Refresh or Start, and release it with Stop.
type Source struct {
	opts      Options // defaulted and validated
	realClock bool    // Options.Clock was not set: ages come from the monotonic clock
	ownClient bool    // Options.HTTPClient was not set: Stop closes its connections
	log       *slog.Logger
	client    *http.Client
	location  string

	// Read on every request without locking. lastSuccess is stored before
	// the set it vouches for, so a reader that sees a set also sees its
	// freshness.
	set         atomic.Pointer[keySet]
	lastSuccess atomic.Pointer[time.Time]
	lastAttempt atomic.Pointer[time.Time]
	inflight    atomic.Pointer[fetchCall]

	// Tests shorten these.
	pollInterval time.Duration
	jitter       func(time.Duration) time.Duration

	base    context.Context // cancelled by Stop; every fetch runs under it
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the refresh loop and running fetches
	resched chan struct{}  // wakes the loop after any fetch

	mu        sync.Mutex // guards the fields below and the start of fetches
	started   bool
	stopped   bool
	stopAfter func() bool
	failures  int       // consecutive failed fetches
	dueAt     time.Time // wall-clock-independent time of the next loop fetch
	lastFetch time.Time
	lastErr   string
	nextFetch time.Time    // dueAt on Options.Clock, for Status
	skipped   []SkippedKey // of the last document whose keys were parsed

	// Owned by the single running fetch: fetches never overlap, and each
	// starts under mu after the previous one released it.
	remote       remoteState
	file         fileState
	appliedHash  [32]byte // SHA-256 of the document behind the current set
	rejectedHash [32]byte // SHA-256 of the last document that failed to apply
}

// New validates opts and returns a Source that holds no keys yet: until the
// first successful fetch, Key returns ErrUnavailable. New does no I/O; it
// creates the provider's counter series at 0.
func New(opts Options) (*Source, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	base, cancel := context.WithCancel(context.Background())
	s := &Source{
		opts:         o,
		realClock:    opts.Clock == nil,
		ownClient:    opts.HTTPClient == nil,
		log:          o.Logger.With("provider", o.Provider),
		client:       prepareClient(o.HTTPClient, o.AllowHTTP),
		location:     o.location(),
		pollInterval: defaultPollInterval,
		jitter:       jitterDown,
		base:         base,
		cancel:       cancel,
		resched:      make(chan struct{}, 1),
	}
	o.Metrics.init(o.Provider)
	if o.JWKSURI != "" {
		// Validated by withDefaults.
		s.remote.jwksURL, _ = checkURL(o.JWKSURI, o.AllowHTTP)
	}
	return s, nil
}

// Key returns the key with the given kid. A kid of "" matches only a set of
// exactly one key.
//
// A key in the current set is returned without locking or allocating. For a
// kid not in the set, Key refetches the JWKS at most once per
// MinRefreshInterval (measured from the last fetch attempt of any kind),
// waits for that fetch, shared with every concurrent caller, for as long as
// ctx allows, and looks again; within the interval it returns ErrUnknownKey
// at once. It returns ErrUnavailable, for every kid, while no set has loaded
// or the last successful fetch is older than MaxStale; a rate-limited fetch
// is then started in the background. When ctx ends during the wait the error
// wraps both ErrUnknownKey and the context's cause.
func (s *Source) Key(ctx context.Context, kid string) (*Key, error) {
	ks := s.set.Load()
	if ks == nil || !s.fresh() {
		s.startRecovery()
		return nil, ErrUnavailable
	}
	if k := ks.lookup(kid); k != nil {
		return k, nil
	}
	if kid == "" {
		// A set of several keys does not become one key by refetching.
		return nil, ErrUnknownKey
	}
	return s.refetchFor(ctx, kid)
}

// refetchFor handles a kid missing from a fresh set.
func (s *Source) refetchFor(ctx context.Context, kid string) (*Key, error) {
	c := s.inflight.Load()
	if c == nil {
		if s.withinFloor() {
			// The fetch that set lastAttempt published inflight first: if
			// it is no longer in flight, its set is already visible. Sets
			// are only replaced by fresher ones, so Key's freshness check
			// still holds.
			if c = s.inflight.Load(); c == nil {
				return s.set.Load().lookupErr(kid)
			}
		} else if c, _ = s.begin(modeMiss); c == nil {
			return s.lookupAgain(kid)
		}
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnknownKey, context.Cause(ctx))
	}
	return s.lookupAgain(kid)
}

// lookupAgain looks kid up in the current set after a fetch.
func (s *Source) lookupAgain(kid string) (*Key, error) {
	ks := s.set.Load()
	if ks == nil || !s.fresh() {
		return nil, ErrUnavailable
	}
	if k := ks.lookup(kid); k != nil {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// startRecovery starts a background fetch, rate limited like an unknown-kid
// refetch, when the keys are unavailable: recovery then does not wait for
// the next scheduled retry, which may be a whole RefreshInterval away.
func (s *Source) startRecovery() {
	if s.inflight.Load() == nil && !s.withinFloor() {
		s.begin(modeMiss)
	}
}

// fresh reports whether the last successful fetch is within MaxStale.
func (s *Source) fresh() bool {
	p := s.lastSuccess.Load()
	return p != nil && s.since(*p) <= s.opts.MaxStale
}

// since is the time elapsed from t. With the real clock it reads only the
// monotonic clock, which is cheaper than time.Now on the request path and
// immune to wall-clock steps.
func (s *Source) since(t time.Time) time.Duration {
	if s.realClock {
		return time.Since(t)
	}
	return s.opts.Clock().Sub(t)
}

// withinFloor reports whether the last fetch attempt started less than
// MinRefreshInterval ago. A clock that went backwards does not block fetches
// forever.
func (s *Source) withinFloor() bool {
	p := s.lastAttempt.Load()
	if p == nil {
		return false
	}
	d := s.since(*p)
	return d >= 0 && d < s.opts.MinRefreshInterval
}

// Ready reports whether the source has keys within MaxStale.
func (s *Source) Ready() bool {
	ks := s.set.Load()
	return ks != nil && len(ks.all) > 0 && s.fresh()
}

// Keys returns the current set (nil before the first load), including keys
// served past MaxStale; the slice is the caller's.
func (s *Source) Keys() []*Key {
	return s.set.Load().keys()
}

// Status describes the source for the admin API.
func (s *Source) Status() Status {
	st := Status{
		Provider: s.opts.Provider,
		Location: s.location,
		KeyIDs:   s.set.Load().ids(),
		Ready:    s.Ready(),
	}
	if p := s.lastSuccess.Load(); p != nil {
		st.LastSuccess = *p
		st.StaleAt = p.Add(s.opts.MaxStale)
	}
	s.mu.Lock()
	st.LastFetch = s.lastFetch
	st.LastError = s.lastErr
	st.NextRefresh = s.nextFetch
	st.SkippedKeys = append([]SkippedKey(nil), s.skipped...)
	s.mu.Unlock()
	return st
}

// jitterDown shortens a refresh delay by up to 10% so that replicas started
// together do not fetch in lockstep. The result is floored at
// MinRefreshInterval by the caller.
func jitterDown(d time.Duration) time.Duration {
	if d <= 10 {
		return d
	}
	return d - rand.N(d/10)
}
