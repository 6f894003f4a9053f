package scalesim

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/revocation"
	revredis "github.com/jwt-authz/jwt-authz/revocation/redis"
)

// listener is a replica that asks of Redis what a jwt-authz process asks,
// without the Service's index: the product's own redis.Store on its own
// client, subscribed to the channel (so Redis sends it every message, as to
// any replica), with the Service's incremental pull every ProbeInterval
// from a cursor that follows the announcements, its full listing after a
// resubscription and every 60 to 90 SyncIntervals, and its sweep of
// expired entries every SweepInterval. Its Store decodes every message;
// the listener only counts the entries.
//
// It records, per message, change-log read or pull, the range of write
// sequence numbers delivered and the time: no work per entry beyond the
// product's decoding. A message is credited only when it held as many
// entries as its numbers say. The phase's measure maps each entry to its
// sequence number (from the store's change log) to time every (listener,
// entry) pair.
type listener struct {
	id     int
	t      *tracker
	turn   *turn
	client goredis.UniversalClient
	store  *revredis.Store
	// lose, a test's hook, withholds a message's credit.
	lose func(listener int, after, through uint64) bool

	probe, syncEvery, sweep time.Duration

	// entries counts what the Store decoded since the last message's end;
	// only the subscription's goroutine uses it.
	entries uint64

	// ready is closed once the listener is subscribed and has pulled
	// since: its cursor follows the announcements from then on.
	ready     chan struct{}
	readyOnce sync.Once
	resync    chan struct{}

	mu sync.Mutex
	// As revocation.Service keeps them.
	cursor                  revocation.Cursor
	lost, blind             bool
	subscriptions, pulledOn int
	nextFull                time.Time
	probedHead              revocation.Cursor
	probedCursor            uint64
	// What it delivered during the phase, in arrival order; through is the
	// highest sequence number up to which it is past every number
	// (delivered or not credited), ahead the ranges beyond a hole.
	spans   []span
	through uint64
	ahead   []span
	short   int64 // messages not credited
	// pullErrors counts failed pulls, fullListings successful full
	// listings (after a resubscription or a failed pull, or the safety
	// net), over the phase.
	pullErrors, fullListings int64
	// pullReads counts the entries the pulls read, over the phase.
	pullReads int64
	target    uint64
	goal      *goal
}

// span is a range of write sequence numbers [lo, hi] a listener delivered
// at tracker time at.
type span struct {
	lo, hi uint64
	at     uint32
	pulled bool
}

// newListener returns a listener on client; its store is set before it
// starts.
func newListener(id int, t *tracker, tn *turn, client goredis.UniversalClient, cfg Config) *listener {
	probe := probeInterval(cfg)
	syncEvery := cfg.SyncInterval
	if syncEvery <= 0 {
		syncEvery = revocation.DefaultSyncInterval
	}
	return &listener{
		id: id, t: t, turn: tn, client: client, lose: cfg.loseMessage,
		probe: probe, syncEvery: syncEvery, sweep: revocation.DefaultSweepInterval,
		ready: make(chan struct{}), resync: make(chan struct{}, 1),
	}
}

// probeInterval is the replicas' probe period, as revocation.Service
// sets it from cfg.ProbeInterval.
func probeInterval(cfg Config) time.Duration {
	probe := cfg.ProbeInterval
	if probe <= 0 {
		probe = revocation.DefaultProbeInterval
	}
	return max(min(probe, revocation.DefaultMaxStaleness/4), time.Millisecond)
}

// start makes the first full listing, as NewService does.
func (l *listener) start(ctx context.Context) error {
	return l.pull(ctx, true)
}

// run follows the store until ctx is done, as Service.Run does.
func (l *listener) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { l.follow(ctx) })
	probe := time.NewTicker(l.probe)
	defer probe.Stop()
	full := time.NewTicker(l.syncEvery)
	defer full.Stop()
	sweep := time.NewTicker(l.sweep)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-probe.C:
			_ = l.probeStore(ctx)
		case <-full.C:
			l.mu.Lock()
			due := l.blind || !time.Now().Before(l.nextFull)
			l.mu.Unlock()
			if due {
				_ = l.pull(ctx, true)
			}
		case <-l.resync:
			_ = l.pull(ctx, false)
		case <-sweep.C:
			_, _ = l.store.DeleteExpired(ctx, time.Now())
		}
	}
}

// follow holds the subscription, as Service.follow does.
func (l *listener) follow(ctx context.Context) {
	if l.turn.wait(ctx) != nil {
		return
	}
	var once sync.Once
	for ctx.Err() == nil {
		_ = l.store.Subscribe(ctx,
			func(revocation.Entry) { l.entries++ },
			l.covered,
			func() {
				l.mu.Lock()
				l.subscriptions++
				if l.subscriptions > 1 {
					l.blind = true
				}
				l.mu.Unlock()
				once.Do(l.turn.pass)
				select {
				case l.resync <- struct{}{}:
				default:
				}
			})
	}
}

// covered follows every batch announcement and every change-log read of
// the subscription: the entries since the previous call were (after,
// through].
func (l *listener) covered(after, through uint64) {
	n := l.entries
	l.entries = 0
	at := l.t.since(time.Now())
	l.mu.Lock()
	defer l.mu.Unlock()
	c := &l.cursor
	if through == 0 {
		l.lost = true
	} else if !l.lost && c.Generation != "" && l.pulledOn == l.subscriptions && c.Seq >= after && through > c.Seq {
		c.Seq = through
	}
	if through <= after {
		return
	}
	sp := span{lo: after + 1, hi: through, at: at}
	if n != through-after || (l.lose != nil && l.lose(l.id, after, through)) {
		// Not credited; but the subscription has gone past these numbers,
		// and waiting longer would not bring them.
		l.short++
		l.passedLocked(sp)
		return
	}
	l.deliveredLocked(sp)
}

// probeStore is Service.probe: it reads the store's position, and the change
// log only when the subscription may have missed a write.
func (l *listener) probeStore(ctx context.Context) error {
	l.mu.Lock()
	cur, seen, seenCursor := l.cursor, l.probedHead, l.probedCursor
	follows := !l.lost && l.pulledOn == l.subscriptions && cur.Generation != "" && seen.Generation == cur.Generation
	l.mu.Unlock()
	if !follows {
		return l.pull(ctx, false)
	}
	head, err := l.store.Head(ctx)
	if err != nil {
		l.mu.Lock()
		l.blind = true
		l.pullErrors++
		l.probedHead = revocation.Cursor{}
		l.mu.Unlock()
		return err
	}
	missed := cur.Seq < seen.Seq || cur.Seq == seenCursor && head.Seq > cur.Seq
	if head.Generation != cur.Generation || head.Seq < cur.Seq || missed {
		return l.pull(ctx, false)
	}
	l.mu.Lock()
	l.probedHead, l.probedCursor = head, cur.Seq
	l.mu.Unlock()
	return nil
}

// pull is Service.pull without the index and the write-back: an
// incremental pull from the cursor, or a full listing.
func (l *listener) pull(ctx context.Context, full bool) error {
	l.mu.Lock()
	from, subs, lost := l.cursor, l.subscriptions, l.lost
	l.mu.Unlock()
	if lost {
		from.Generation = ""
	}
	if full {
		from.Seq = 0
	}
	var read int64
	next, reset, err := l.store.Pull(ctx, from, func(revocation.Entry) error { read++; return nil })
	if err != nil {
		l.mu.Lock()
		l.blind = true
		l.probedHead = revocation.Cursor{} // the next probe pulls
		l.pullErrors++
		l.pullReads += read
		l.mu.Unlock()
		return err
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if lost {
		l.lost = false
	}
	l.pullReads += read
	start := from.Seq
	if reset {
		start = 0
	}
	if next.Seq > start {
		l.deliveredLocked(span{lo: start + 1, hi: next.Seq, at: l.t.since(now), pulled: true})
	}
	if !reset && next.Generation == l.cursor.Generation && l.cursor.Seq > next.Seq {
		next.Seq = l.cursor.Seq
	}
	l.cursor = next
	l.pulledOn = subs
	l.probedHead, l.probedCursor = next, next.Seq
	if subs > 0 {
		l.readyOnce.Do(func() { close(l.ready) })
	}
	if full {
		l.fullListings++
	}
	if full || reset {
		l.blind = false
		base := fullResyncEvery * l.syncEvery
		l.nextFull = now.Add(base + rand.N(base/2+1))
	}
	return nil
}

// fullResyncEvery is revocation.Service's: SyncIntervals between two
// safety-net full listings, plus up to half as many at random.
const fullResyncEvery = 60

// deliveredLocked records sp as delivered.
func (l *listener) deliveredLocked(sp span) {
	l.spans = append(l.spans, sp)
	l.passedLocked(sp)
}

// passedLocked notes that the listener is past the numbers of sp, and
// counts it towards the phase's goal once it is past every number up to
// the target.
func (l *listener) passedLocked(sp span) {
	if sp.lo > l.through+1 {
		l.ahead = append(l.ahead, sp)
		return
	}
	l.through = max(l.through, sp.hi)
	for moved := true; moved; {
		moved = false
		for i := 0; i < len(l.ahead); i++ {
			if a := l.ahead[i]; a.lo <= l.through+1 {
				l.through = max(l.through, a.hi)
				l.ahead = append(l.ahead[:i], l.ahead[i+1:]...)
				i--
				moved = true
			}
		}
	}
	l.reachedLocked()
}

func (l *listener) reachedLocked() {
	if l.goal != nil && l.target != 0 && l.through >= l.target {
		l.goal.applied1()
		l.goal = nil
	}
}

// begin starts a phase whose writes take the sequence numbers after base.
func (l *listener) begin(base uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.spans, l.ahead = l.spans[:0], nil
	l.through, l.short, l.target, l.goal = base, 0, 0, nil
	l.pullErrors, l.fullListings, l.pullReads = 0, 0, 0
}

// aim counts the listener towards g once it has delivered every number up
// to target, the last one the phase wrote.
func (l *listener) aim(g *goal, target uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.goal, l.target = g, target
	l.reachedLocked()
}
