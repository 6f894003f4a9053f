package jwks

import (
	"context"
	"time"
)

// Start runs the refresh loop in the background: a first fetch at once, then
// fetches as scheduled after each outcome (see Options), and polling of a
// JWKS file. The source stops when ctx is done or Stop is called; Key then
// keeps serving the last set, within MaxStale, but nothing is fetched any
// more. Start returns immediately; calls after the first do nothing.
func (s *Source) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return
	}
	s.started = true
	s.stopAfter = context.AfterFunc(ctx, s.shutdown)
	s.wg.Add(1)
	go s.loop()
}

// Stop ends the refresh loop, cancels a fetch in flight and waits for both;
// callers waiting for that fetch get an error. It is safe to call more than
// once, and without Start.
func (s *Source) Stop() {
	s.shutdown()
	s.mu.Lock()
	stopAfter := s.stopAfter
	s.mu.Unlock()
	if stopAfter != nil {
		stopAfter()
	}
	s.wg.Wait()
	if s.ownClient {
		s.client.CloseIdleConnections()
	}
}

// shutdown marks the source stopped, so no fetch starts any more, and
// cancels the running one.
func (s *Source) shutdown() {
	s.mu.Lock()
	s.stopped = true
	s.nextFetch = time.Time{}
	s.mu.Unlock()
	s.cancel()
}

// loop fetches whenever the schedule says so. Any fetch, whoever started it,
// moves the schedule and wakes the loop, so an unknown-kid refetch also
// postpones the next regular one.
func (s *Source) loop() {
	defer s.wg.Done()
	for {
		if c, _ := s.begin(modeLoop); c != nil {
			select {
			case <-c.done:
			case <-s.base.Done():
				return
			}
		}
		s.mu.Lock()
		wait := time.Until(s.dueAt)
		s.mu.Unlock()
		timer := time.NewTimer(wait)
		select {
		case <-s.base.Done():
			timer.Stop()
			return
		case <-s.resched:
			timer.Stop()
		case <-timer.C:
		}
	}
}
