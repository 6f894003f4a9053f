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

// goal is the phase being waited for: entries [lo, hi) on every full
// replica, and every listener's delivery of the write sequence numbers up
// to the last one the phase wrote.
type goal struct {
	lo, hi   int
	replicas int64        // full replicas
	want     atomic.Int64 // applies (and listeners) to wait for
	applied  atomic.Int64
	done     chan struct{}
	once     sync.Once
}

func newGoal(lo, hi, replicas, listeners int) *goal {
	g := &goal{lo: lo, hi: hi, replicas: int64(replicas), done: make(chan struct{})}
	g.want.Store(int64(hi-lo)*g.replicas + int64(listeners))
	return g
}

// applied1 counts one first apply of an entry of the phase by a full
// replica, or one listener that has delivered everything the phase wrote.
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
	turn     *turn
	client   goredis.UniversalClient
	svc      *revocation.Service
	arrivals []atomic.Uint32 // per entry: tracker.since of the first apply, or 0

	// applied holds the entries the subscription's Service applied since
	// the end of the last message; only the subscription's goroutine uses
	// it.
	applied []int

	subscribed    chan struct{} // closed at the first subscription
	subscribeOnce sync.Once
	subscriptions atomic.Int64
	viaPull       atomic.Int64
}

// pend appends the number of e, when it is an entry of the run, to batch.
func (r *replica) pend(batch []int, e revocation.Entry) []int {
	if i, ok := r.t.ids.index(e.Value); ok && i < len(r.arrivals) {
		batch = append(batch, i)
	}
	return batch
}

// note records that the Service has applied every entry of batch, reached
// by a pull or an announcement: one clock reading for a whole message or
// pull, taken once its last entry is applied.
func (r *replica) note(batch []int, pulled bool) {
	if len(batch) == 0 {
		return
	}
	at := r.t.since(time.Now())
	g := r.t.phase.Load()
	for _, i := range batch {
		if !r.arrivals[i].CompareAndSwap(0, at) {
			continue
		}
		if pulled {
			r.viaPull.Add(1)
		}
		if g != nil && i >= g.lo && i < g.hi {
			g.applied1()
		}
	}
}

func (r *replica) onSubscribed() {
	r.subscriptions.Add(1)
	r.subscribeOnce.Do(func() {
		close(r.subscribed)
		r.turn.pass()
	})
}

// recordingStore is the replica's redis.Store with its Service's callbacks
// wrapped: each entry is noted once the Service has applied it and the
// rest of its message (or pull).
type recordingStore struct {
	*revredis.Store
	r *replica
}

// Subscribe implements revocation.Shared. The replica's first
// subscription waits for its turn, so that the replicas subscribe in
// the order of their places.
func (s recordingStore) Subscribe(ctx context.Context, onEntry func(revocation.Entry), onCovered func(after, through uint64), onSubscribed func()) error {
	if err := s.r.turn.wait(ctx); err != nil {
		return nil
	}
	return s.Store.Subscribe(ctx,
		func(e revocation.Entry) {
			onEntry(e)
			s.r.applied = s.r.pend(s.r.applied, e)
		},
		func(after, through uint64) {
			onCovered(after, through)
			// Every batch announcement and every read of the change log
			// after a gap ends with this call.
			s.r.note(s.r.applied, false)
			s.r.applied = s.r.applied[:0]
		},
		func() {
			onSubscribed()
			s.r.onSubscribed()
		})
}

// Pull implements revocation.Shared.
func (s recordingStore) Pull(ctx context.Context, from revocation.Cursor, fn func(revocation.Entry) error) (revocation.Cursor, bool, error) {
	var batch []int
	defer func() { s.r.note(batch, true) }()
	return s.Store.Pull(ctx, from, func(e revocation.Entry) error {
		err := fn(e)
		if err == nil {
			batch = s.r.pend(batch, e)
		}
		return err
	})
}

var _ revocation.Shared = recordingStore{}

// turn orders the replicas' first subscriptions: each waits for the one
// before it to be subscribed, so that Redis holds the subscribers in the
// order of their places.
type turn struct {
	mine, next chan struct{}
}

// turns returns n turns, the first one open.
func turns(n int) []*turn {
	ts := make([]*turn, n)
	c := make(chan struct{})
	close(c)
	for i := range ts {
		next := make(chan struct{})
		ts[i] = &turn{mine: c, next: next}
		c = next
	}
	return ts
}

// wait returns once it is this replica's turn to subscribe, or ctx's
// error.
func (t *turn) wait(ctx context.Context) error {
	select {
	case <-t.mine:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pass lets the next replica subscribe. Call it once.
func (t *turn) pass() { close(t.next) }
