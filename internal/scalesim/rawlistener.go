package scalesim

import (
	"context"
	"encoding/binary"
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
// pull, full listing or sweep, and reads no session set's content: with
// raw listeners, only the full replicas do these.
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
}

// rawArrival is one message a raw listener received: the first write
// sequence number of its header (0: none) and the tracker time.
type rawArrival struct {
	first uint64
	at    uint32
}

func newRawListener(id int, t *tracker, tn *turn, client goredis.UniversalClient, store *revredis.Store, channel string, sharded bool, cfg Config) *rawListener {
	return &rawListener{
		id: id, t: t, turn: tn, client: client, store: store, channel: channel, sharded: sharded,
		probe: probeInterval(cfg), withhold: cfg.withholdRaw, ready: make(chan struct{}),
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
	l.reachedLocked()
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
	if l.goal != nil && l.seen >= l.target {
		l.goal.applied1()
		l.goal = nil
	}
}

// begin starts a phase.
func (l *rawListener) begin() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.arrivals, l.bytes, l.seen = l.arrivals[:0], 0, 0
	l.probes, l.probeErrors, l.target, l.goal = 0, 0, 0, nil
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
