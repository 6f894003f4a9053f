package redis

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// Defaults of the announcement batching (Options.AnnounceDelay and
// Options.AnnounceMaxBytes).
//
// A batch is flushed AnnounceDelay after its first entry, but under load
// not sooner than the interval after the previous batch (see
// AnnounceSpacingPerSubscriber); or at once when it holds
// AnnounceMaxBytes of announcement (or the next entry would take it past
// that). A lone revocation, after a quiet interval, pays the 2 ms of the
// delay on its way to every replica, 2 % of the 100 ms budget of idle
// propagation. 64 KiB, about 870 UUID jtis, keeps one message well below
// Redis's client output buffer limits for pub/sub (8 MiB soft), so a slow
// replica is not disconnected by one burst.
const (
	DefaultAnnounceDelay    = 2 * time.Millisecond
	DefaultAnnounceMaxBytes = 64 << 10
)

// flushTimeout bounds one script call of a batch. The batch carries the
// entries of several callers, so it does not run under any one caller's
// context.
const flushTimeout = 10 * time.Second

// batch is the entries of one script call and its outcome.
type batch struct {
	entries []revocation.Entry
	bytes   int
	timer   *time.Timer   // flushes it after the delay
	done    chan struct{} // closed when err is set
	err     error
}

// batcher gathers concurrent Puts into one script call, which stores
// them all and announces them in one message. Each Put still returns only
// once its entry is stored.
type batcher struct {
	s        *Store
	delay    time.Duration
	interval time.Duration // Options.AnnounceInterval: 0 follows the subscribers
	maxBytes int

	mu        sync.Mutex
	open      *batch    // gathering entries; nil when none is
	lastFlush time.Time // when the previous batch was flushed

	subscribers  atomic.Int64 // last count of the channel's subscribers
	counted      atomic.Int64 // when it was taken (unix ns); 0: never
	counting     atomic.Bool  // a count is under way
	countFailing atomic.Bool  // the last count failed
}

// put adds e to the open batch (opening one if needed) and waits for the
// batch's script call.
func (b *batcher) put(ctx context.Context, e revocation.Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.delay <= 0 {
		b.s.observeBatch(1)
		return b.s.put(ctx, b.s.channel, []revocation.Entry{e})
	}
	size := announceSize(e)
	b.mu.Lock()
	if bt := b.open; bt != nil && bt.bytes+size > b.maxBytes {
		b.detachLocked(bt)
	}
	bt := b.open
	if bt == nil {
		bt = &batch{done: make(chan struct{})}
		b.open = bt
		wait := b.delay
		if !b.lastFlush.IsZero() {
			wait = max(wait, time.Until(b.lastFlush.Add(b.intervalNow())))
		}
		bt.timer = time.AfterFunc(wait, func() {
			b.mu.Lock()
			mine := b.open == bt
			if mine {
				b.open = nil
				b.lastFlush = time.Now()
			}
			b.mu.Unlock()
			if mine {
				b.flush(bt)
			}
		})
	}
	bt.entries = append(bt.entries, e)
	bt.bytes += size
	if bt.bytes >= b.maxBytes {
		b.detachLocked(bt)
	}
	b.mu.Unlock()

	select {
	case <-bt.done:
		return bt.err
	case <-ctx.Done():
		// The entry may still be stored and announced; the caller only
		// stops waiting for it.
		return ctx.Err()
	}
}

// detachLocked flushes the open batch bt before its delay is up.
func (b *batcher) detachLocked(bt *batch) {
	b.open = nil
	b.lastFlush = time.Now()
	bt.timer.Stop() // if it fired already, it finds bt detached
	go b.flush(bt)
}

// flush runs the script call of bt, which no one adds to any more.
func (b *batcher) flush(bt *batch) {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	bt.err = b.s.put(ctx, b.s.channel, bt.entries)
	b.s.observeBatch(len(bt.entries))
	close(bt.done)
	b.maybeRefresh()
}

// announceSize bounds the bytes e takes in a compact announcement: its
// kind byte, provider and value with their lengths, and three numbers. The
// batch form, which a batch takes only with a number of more than 15
// digits, is at most 2.5 times that.
func announceSize(e revocation.Entry) int {
	return 1 + len(e.Provider) + binary.MaxVarintLen16 + len(e.Value) + binary.MaxVarintLen32 + 3*binary.MaxVarintLen64
}
