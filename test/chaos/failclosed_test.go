package chaos

import (
	"context"
	"time"
)

// The replica's own account of failing closed because its revocation
// copy could not be trusted (Redis not reached for max_staleness).
const (
	metricFailClosedTotal = "jwt_authz_revocation_fail_closed_total"
	metricFailingClosed   = "jwt_authz_revocation_failing_closed"
)

// failClosedSample is one scrape of a replica's fail-closed metrics.
type failClosedSample struct {
	seen    bool    // a scrape of this incarnation was read
	started float64 // jwt_authz_revocation_fail_closed_total
	now     bool    // jwt_authz_revocation_failing_closed was 1
}

// scrapeFailClosed reads r's fail-closed metrics; ok is false when r did
// not answer or was restarted meanwhile.
func (r *replica) scrapeFailClosed(ctx context.Context, incarnation int64) (failClosedSample, bool) {
	m, err := r.metrics(ctx)
	if err != nil || r.state().incarnation != incarnation {
		return failClosedSample{}, false
	}
	return failClosedSample{seen: true, started: m.sum(metricFailClosedTotal), now: m.sum(metricFailingClosed) == 1}, true
}

// watchFailClosed keeps, for every replica that is up, the last scrape of
// its fail-closed metrics in its state, so that a request finds there
// one that ended before it started.
func (h *harness) watchFailClosed(ctx context.Context) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, r := range h.replicas {
			st := r.state()
			if !st.up {
				continue
			}
			fc, ok := r.scrapeFailClosed(ctx, st.incarnation)
			if !ok {
				continue
			}
			r.update(func(cur *replicaState) {
				if cur.up && cur.incarnation == st.incarnation {
					cur.failClosed = fc
				}
			})
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// failedClosedStale reports whether a store_unavailable answer that r gave
// between the scrape before (in the state at the request's start) and one
// made now is the replica's own fail-closed: it was failing closed at that
// scrape, or it started to since. Nothing else excuses such an answer.
func (r *replica) failedClosedStale(ctx context.Context, before failClosedSample, incarnation int64) bool {
	if !before.seen {
		return false
	}
	after, ok := r.scrapeFailClosed(ctx, incarnation)
	return ok && (before.now || after.started > before.started)
}
