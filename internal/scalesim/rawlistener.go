package scalesim

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	revredis "github.com/jwt-authz/jwt-authz/revocation/redis"
)

// rawListener is a replica reduced to what it asks of Redis's fan-out: its
// own client, subscribed to the announcement channel as the product
// subscribes (SSUBSCRIBE in a Cluster whose primary for the keys runs
// Redis 7 or later, SUBSCRIBE otherwise), so that Redis sends it every
// message whole, as to any replica; and the probe's read of the store's
// position (Store.Head) every ProbeInterval, on the same client. It
// decodes no entry: per message it keeps the arrival time and the first
// write sequence number of the header, and counts the bytes. It makes no
// pull, full listing or sweep: with raw listeners, only the full replicas
// do these. In the session-set phase it reads the set's content as a
// replica's load does (see setRead).
type rawListener struct {
	id      int
	t       *tracker
	turn    *turn
	client  goredis.UniversalClient
	store   *revredis.Store
	channel string
	sharded bool
	probe   time.Duration
	// withhold, a test's hook, drops a message as if it never came.
	withhold func(listener int, first uint64) bool
	// failSetRead, a test's hook, fails a read of the set.
	failSetRead func(listener int) bool

	// ready is closed once the listener is subscribed.
	ready chan struct{}

	mu sync.Mutex
	// What it received during the phase, in arrival order.
	arrivals []rawArrival
	bytes    int64
	// seen counts the messages that came, withheld ones too: a withheld
	// message will not come again, so the wait for it is over.
	seen int64
	// probes and probeErrors count the Head reads over the phase;
	// subscriptions over the run.
	probes, probeErrors int64
	subscriptions       int
	target              int64 // messages to receive in the phase
	goal                *goal
	// set is the session set to read in this phase (nil: none).
	set *setRead
	// reading tracks the set reads under way.
	reading sync.WaitGroup
}

// setRead is a raw listener's read of the session-set phase's set: the
// first message whose header's first sequence number is past base (the
// store's position before the phase, whose one write is the set's entry)
// announces it, and the listener then reads its whole content with
// Store.ReadSetContent, as a replica's load does (the header from the
// primary, the chunks through its set reader), without checking or
// decoding it. A failed read is made again until it succeeds or ctx (the
// phase's settle window) ends; the set counts as delivered only once a
// read succeeded.
type setRead struct {
	ctx     context.Context
	base    uint64
	id      string
	started bool
	// done is set once a read succeeded, at (tracker time) with bytes.
	done   bool
	at     uint32
	bytes  int64
	errors int64
}

// rawArrival is one message a raw listener received: the first write
// sequence number of its header (0: none) and the tracker time.
type rawArrival struct {
	first uint64
	at    uint32
}

// newRawListener returns a raw listener on client; its store is set before
// it runs.
func newRawListener(id int, t *tracker, tn *turn, client goredis.UniversalClient, channel string, sharded bool, cfg Config) *rawListener {
	return &rawListener{
		id: id, t: t, turn: tn, client: client, channel: channel, sharded: sharded,
		probe: probeInterval(cfg), withhold: cfg.withholdRaw, failSetRead: cfg.failSetRead, ready: make(chan struct{}),
	}
}

// run follows the channel and probes the store until ctx is done.
func (l *rawListener) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { l.follow(ctx) })
	tick := time.NewTicker(l.probe)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			_, err := l.store.Head(ctx)
			l.mu.Lock()
			l.probes++
			if err != nil && ctx.Err() == nil {
				l.probeErrors++
			}
			l.mu.Unlock()
		}
	}
}

// follow holds the subscription, subscribing again after a failure (each
// message sent meanwhile is missed, and shows so).
func (l *rawListener) follow(ctx context.Context) {
	if l.turn.wait(ctx) != nil {
		return
	}
	var once sync.Once
	for ctx.Err() == nil {
		l.subscribeOnce(ctx, &once)
	}
}

func (l *rawListener) subscribeOnce(ctx context.Context, once *sync.Once) {
	var ps *goredis.PubSub
	if l.sharded {
		ps = l.client.SSubscribe(ctx, l.channel)
	} else {
		ps = l.client.Subscribe(ctx, l.channel)
	}
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer func() {
		if stop() {
			_ = ps.Close()
		}
	}()
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			if ctx.Err() == nil {
				// Not a hot loop on a server that refuses: wait as the
				// product's first backoff does.
				t := time.NewTimer(200 * time.Millisecond)
				defer t.Stop()
				select {
				case <-ctx.Done():
				case <-t.C:
				}
			}
			return
		}
		switch m := msg.(type) {
		case *goredis.Subscription:
			if (m.Kind == "subscribe" || m.Kind == "ssubscribe") && m.Channel == l.channel {
				l.mu.Lock()
				l.subscriptions++
				l.mu.Unlock()
				once.Do(func() {
					close(l.ready)
					l.turn.pass()
				})
			}
		case *goredis.Message:
			l.received(m.Payload, time.Now())
		}
	}
}

// received records one message.
func (l *rawListener) received(payload string, now time.Time) {
	first := firstSeq(payload)
	withheld := l.withhold != nil && l.withhold(l.id, first)
	at := l.t.since(now)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen++
	if withheld {
		l.reachedLocked()
		return
	}
	l.arrivals = append(l.arrivals, rawArrival{first: first, at: at})
	l.bytes += int64(len(payload))
	if set := l.set; set != nil && !set.started && first > set.base {
		set.started = true
		l.reading.Go(func() { l.readSet(set) })
	}
	l.reachedLocked()
}

// setRetry is the pause between two failed reads of a set.
const setRetry = 100 * time.Millisecond

// readSet reads set's content until a read succeeds or set.ctx ends.
func (l *rawListener) readSet(set *setRead) {
	for {
		var n int64
		var err error
		if l.failSetRead != nil && l.failSetRead(l.id) {
			err = errors.New("failed by the test")
		} else {
			n, err = l.store.ReadSetContent(set.ctx, "", set.id)
		}
		now := time.Now()
		l.mu.Lock()
		if err == nil {
			set.done, set.at, set.bytes = true, l.t.since(now), n
			l.reachedLocked()
			l.mu.Unlock()
			return
		}
		if set.ctx.Err() != nil {
			l.mu.Unlock()
			return
		}
		set.errors++
		l.mu.Unlock()
		t := time.NewTimer(setRetry)
		select {
		case <-set.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// The headers of revocation/redis's announcements: the compact form,
// "c:" then the first write sequence number as a uvarint, and the batch
// form, "b:" then the first entry's number in decimal and ':'.
const (
	compactHeader = "c:"
	batchHeader   = "b:"
)

// firstSeq returns the first write sequence number of an announcement,
// reading its header alone (0: none, or malformed).
func firstSeq(payload string) uint64 {
	if rest, ok := strings.CutPrefix(payload, compactHeader); ok {
		var b [binary.MaxVarintLen64]byte
		n, size := binary.Uvarint(b[:copy(b[:], rest)])
		if size <= 0 {
			return 0
		}
		return n
	}
	if rest, ok := strings.CutPrefix(payload, batchHeader); ok {
		num, _, _ := strings.Cut(rest, ":")
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			return 0
		}
		return n
	}
	return 0
}

func (l *rawListener) reachedLocked() {
	if l.goal != nil && l.seen >= l.target && (l.set == nil || l.set.done) {
		l.goal.applied1()
		l.goal = nil
	}
}

// begin starts a phase; set, when not nil, is the session set it
// announces.
func (l *rawListener) begin(set *setRead) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.arrivals, l.bytes, l.seen = l.arrivals[:0], 0, 0
	l.probes, l.probeErrors, l.target, l.goal = 0, 0, 0, nil
	l.set = set
}

// endSetReads stops starting set reads, waits for those under way (their
// context ended, or they succeeded) and returns the phase's set read (nil:
// none).
func (l *rawListener) endSetReads() *setRead {
	l.mu.Lock()
	set := l.set
	l.set = nil
	l.mu.Unlock()
	// No read starts now (received starts them under l.mu, with l.set).
	l.reading.Wait()
	return set
}

// aim counts the listener towards g once it has received published
// messages in the phase.
func (l *rawListener) aim(g *goal, published int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.goal, l.target = g, published
	l.reachedLocked()
}

// channelName returns the channel a redis.Store with o announces on.
func channelName(o revredis.Options) string {
	switch {
	case o.Channel != "":
		return o.Channel
	case o.Cluster:
		return revredis.ClusterChannel
	}
	return revredis.DefaultChannel
}

// shardedPubSub makes redis.Store's choice of sharded pub/sub: in a
// Cluster (unless PlainPubSub) whose primary for the keys' slot runs
// Redis 7 or later.
func shardedPubSub(ctx context.Context, c goredis.UniversalClient, o revredis.Options, prefix string) (bool, error) {
	if !o.Cluster || o.PlainPubSub {
		return false, nil
	}
	var info string
	var err error
	if cc, ok := c.(*goredis.ClusterClient); ok {
		node, nerr := cc.MasterForKey(ctx, prefix+seqKeySuffix)
		if nerr != nil {
			return false, nerr
		}
		info, err = node.Info(ctx, "server").Result()
	} else {
		info, err = c.Info(ctx, "server").Result()
	}
	if err != nil {
		return false, err
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			major, _, _ := strings.Cut(v, ".")
			n, err := strconv.Atoi(major)
			return err == nil && n >= 7, nil
		}
	}
	return false, nil
}
