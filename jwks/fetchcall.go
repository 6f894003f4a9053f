package jwks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// errStopped is returned by Refresh once the source has stopped.
var errStopped = errors.New("jwks: source stopped")

// mode says who asks for a fetch, which decides the rate limit applied.
type mode int

const (
	// modeMiss: an unknown kid or unavailable keys; at most one fetch per
	// MinRefreshInterval.
	modeMiss mode = iota
	// modeLoop: the refresh loop; only once the scheduled time has come.
	modeLoop
	// modeForce: an explicit Refresh; always fetches.
	modeForce
)

// fetchCall is one fetch that any number of callers may wait for.
type fetchCall struct {
	done  chan struct{} // closed when err is set
	force bool
	err   error
}

// begin returns the fetch in flight, or starts one when the rate limit of m
// allows; started reports the latter. It returns nil when no fetch runs and
// none may start. Fetches never overlap.
func (s *Source) begin(m mode) (c *fetchCall, started bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, false
	}
	if cur := s.inflight.Load(); cur != nil {
		return cur, false
	}
	switch m {
	case modeMiss:
		if s.withinFloor() {
			return nil, false
		}
	case modeLoop:
		if time.Now().Before(s.dueAt) {
			return nil, false
		}
	}
	now := s.opts.Clock()
	c = &fetchCall{done: make(chan struct{}), force: m == modeForce}
	// inflight before lastAttempt: see refetchFor.
	s.inflight.Store(c)
	s.lastAttempt.Store(&now)
	s.lastFetch = now
	s.wg.Add(1)
	go s.run(c)
	return c, true
}

// run performs the fetch of c and publishes its outcome.
func (s *Source) run(c *fetchCall) {
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(s.base, fetchTimeout)
	defer cancel()

	var res fetchResult
	var span trace.Span
	if s.opts.File != "" {
		res = s.readFile(c.force)
	} else {
		ctx, span = s.startFetchSpan(ctx, c.force)
		res = s.fetchRemote(ctx, c.force)
	}
	if res.err != nil && s.base.Err() != nil {
		// Aborted by Stop: not a failure of the endpoint, so neither
		// logged nor counted.
		c.err = fmt.Errorf("%w: %w", errStopped, res.err)
	} else {
		c.err = s.apply(res)
	}
	endFetchSpan(span, res, c.err)

	s.mu.Lock()
	s.inflight.Store(nil)
	s.mu.Unlock()
	close(c.done)
	select {
	case s.resched <- struct{}{}:
	default:
	}
	if s.opts.OnChange != nil {
		s.opts.OnChange()
	}
}

// Refresh fetches the JWKS now, whatever the rate limits, and returns that
// fetch's error (nil when the keys were updated or confirmed). A fetch
// already in flight is waited for first, so the one Refresh makes starts
// after the call. It blocks until the fetch ends or ctx is done; the fetch
// itself is bounded by a 10s timeout and not cancelled with ctx.
func (s *Source) Refresh(ctx context.Context) error {
	for {
		c, started := s.begin(modeForce)
		if c == nil {
			return errStopped
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			return fmt.Errorf("refresh jwks of %s: %w", s.opts.Provider, context.Cause(ctx))
		}
		if started {
			return c.err
		}
	}
}
