package redis

import (
	"context"
	"sync"
	"time"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// Defaults of the announcement batching (Options.AnnounceDelay and
// Options.AnnounceMaxBytes).
//
// A batch is flushed AnnounceDelay after its first entry, or at once when
// it holds AnnounceMaxBytes of announcement (or the next entry would take
// it past that). 2 ms is what a lone
// revocation pays on its way to every replica, 2 % of the 100 ms budget
// of idle propagation, while at a few thousand revocations a second it
// gathers about ten per message: every replica receives, wakes up for and
// decodes a tenth of the messages. 64 KiB, about a thousand jtis, keeps
// one message well below Redis's client output buffer limits for pub/sub
// (8 MiB soft), so a slow replica is not disconnected by one burst.
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
	maxBytes int

	mu   sync.Mutex
	open *batch // gathering entries; nil when none is
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
		bt.timer = time.AfterFunc(b.delay, func() {
			b.mu.Lock()
			mine := b.open == bt
			if mine {
				b.open = nil
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
}

// announceSize bounds the bytes e takes in a batch announcement: its
// member and four decimal numbers with their separators.
func announceSize(e revocation.Entry) int {
	return len(e.Kind) + 1 + len(e.Provider) + 1 + len(e.Value) + 4*21 + 4
}
