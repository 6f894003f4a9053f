package scalesim

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/revocation"
	revredis "github.com/jwt-authz/jwt-authz/revocation/redis"
)

// tracker notes, for every replica and entry of the run, when the replica
// applied the entry.
type tracker struct {
	ids   ids
	start time.Time
	phase atomic.Pointer[goal]
}

// goal is the phase being waited for: entries [lo, hi) on every replica.
type goal struct {
	lo, hi   int
	replicas int64
	want     atomic.Int64 // applies to wait for
	applied  atomic.Int64
	done     chan struct{}
	once     sync.Once
}

func newGoal(lo, hi, replicas int) *goal {
	g := &goal{lo: lo, hi: hi, replicas: int64(replicas), done: make(chan struct{})}
	g.want.Store(int64(hi-lo) * g.replicas)
	return g
}

// applied1 counts one first apply of an entry of the phase.
func (g *goal) applied1() {
	if g.applied.Add(1) >= g.want.Load() {
		g.once.Do(func() { close(g.done) })
	}
}

// unwritten stops waiting for n entries the writer could not record. (One
// that was recorded but whose reply was lost may still be applied; the
// wait then ends early, and measure still counts exactly.)
func (g *goal) unwritten(n int) {
	if g.want.Add(-int64(n)*g.replicas) <= g.applied.Load() {
		g.once.Do(func() { close(g.done) })
	}
}

// since returns microseconds since the run's start plus one (zero means
// "not applied"), saturating.
func (t *tracker) since(now time.Time) uint32 {
	us := now.Sub(t.start).Microseconds() + 1
	return uint32(min(max(us, 1), 1<<32-1))
}

// replica is one simulated jwt-authz process: a revocation.Service on its
// own client.
type replica struct {
	t        *tracker
	client   goredis.UniversalClient
	svc      *revocation.Service
	arrivals []atomic.Uint32 // per entry: tracker.since of the first apply, or 0

	subscribed    chan struct{} // closed at the first subscription
	subscribeOnce sync.Once
	subscriptions atomic.Int64
	viaPull       atomic.Int64
}

// note records that the Service just applied e, reached by a pull or an
// announcement.
func (r *replica) note(e revocation.Entry, pulled bool) {
	i, ok := r.t.ids.index(e.Value)
	if !ok || i >= len(r.arrivals) {
		return
	}
	if !r.arrivals[i].CompareAndSwap(0, r.t.since(time.Now())) {
		return
	}
	if pulled {
		r.viaPull.Add(1)
	}
	if g := r.t.phase.Load(); g != nil && i >= g.lo && i < g.hi {
		g.applied1()
	}
}

func (r *replica) onSubscribed() {
	r.subscriptions.Add(1)
	r.subscribeOnce.Do(func() { close(r.subscribed) })
}

// recordingStore is the replica's redis.Store with its Service's callbacks
// wrapped: each entry is noted once the Service has applied it.
type recordingStore struct {
	*revredis.Store
	r *replica
}

// Subscribe implements revocation.Shared.
func (s recordingStore) Subscribe(ctx context.Context, onEntry func(revocation.Entry), onCovered func(after, through uint64), onSubscribed func()) error {
	return s.Store.Subscribe(ctx,
		func(e revocation.Entry) {
			onEntry(e)
			s.r.note(e, false)
		},
		onCovered,
		func() {
			onSubscribed()
			s.r.onSubscribed()
		})
}

// Pull implements revocation.Shared.
func (s recordingStore) Pull(ctx context.Context, from revocation.Cursor, fn func(revocation.Entry) error) (revocation.Cursor, bool, error) {
	return s.Store.Pull(ctx, from, func(e revocation.Entry) error {
		err := fn(e)
		if err == nil {
			s.r.note(e, true)
		}
		return err
	})
}

var _ revocation.Shared = recordingStore{}
