package redis

import (
	"context"
	"errors"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// Subscription liveness: after idleTimeout without a message the
// subscription is pinged; if the next idleTimeout passes without any reply
// (a half-open connection), it is torn down and made again.
const (
	idleTimeout  = 15 * time.Second
	retryBackoff = 200 * time.Millisecond
	maxBackoff   = 5 * time.Second
)

// Subscribe implements revocation.Shared. It returns nil when ctx is done;
// it never gives up otherwise, reconnecting with a capped backoff.
// onCovered (may be nil) follows every batch announcement and every
// read of the change log that filled a gap.
func (s *Store) Subscribe(ctx context.Context, onEntry func(revocation.Entry), onCovered func(after, through uint64), onSubscribed func()) error {
	if onCovered == nil {
		onCovered = func(uint64, uint64) {}
	}
	backoff := retryBackoff
	for ctx.Err() == nil {
		healthy := s.subscribeOnce(ctx, onEntry, onCovered, onSubscribed)
		if ctx.Err() != nil {
			break
		}
		if healthy {
			backoff = retryBackoff
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
	return nil
}

// subscribeOnce runs one subscription until it fails or ctx is done, and
// reports whether it got as far as being subscribed.
func (s *Store) subscribeOnce(ctx context.Context, onEntry func(revocation.Entry), onCovered func(after, through uint64), onSubscribed func()) (subscribed bool) {
	sharded, err := s.useSharded(ctx)
	if err != nil {
		return false
	}
	var ps *goredis.PubSub
	if sharded {
		ps = s.c.SSubscribe(ctx, s.channel)
	} else {
		ps = s.c.Subscribe(ctx, s.channel)
	}
	// Receive does not watch ctx while it blocks on the socket; closing the
	// subscription unblocks it.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer func() {
		if stop() {
			_ = ps.Close()
		}
	}()

	pinged := false
	// seq follows the write sequence numbers of batch announcements since
	// subscribing: the last one announced, and the last one read from the
	// change log to fill a gap.
	var seq sequence
	for {
		msg, err := ps.ReceiveTimeout(ctx, idleTimeout)
		if err != nil {
			if ctx.Err() != nil {
				return subscribed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				if err := ps.Ping(ctx); err == nil {
					pinged = true
					continue
				}
			}
			if subscribed {
				s.log.Warn("revocation subscription lost; reconnecting", "err", err)
			}
			return subscribed
		}
		pinged = false
		switch m := msg.(type) {
		case *goredis.Subscription:
			if (m.Kind == "subscribe" || m.Kind == "ssubscribe") && m.Channel == s.channel {
				subscribed = true
				onSubscribed()
			}
		case *goredis.Message:
			a, err := decodeAnnouncement(m.Payload)
			if err != nil {
				s.log.Warn("ignoring malformed revocation announcement", "err", err)
				continue
			}
			if !s.deliver(ctx, a, onEntry) {
				// A session set's content could not be loaded: the batch
				// is not covered, and the next batch shows a gap (or the
				// Service's next pull reads the change log) that retries.
				continue
			}
			switch {
			case a.first == 0:
			case seq.announced != 0 && a.first <= seq.announced:
				onCovered(0, 0) // numbered backwards: the dataset lost writes
			default:
				// A batch holds every write of its script call, numbered
				// first to last without a hole.
				onCovered(a.first-1, a.last)
			}
			if from, gap := seq.next(a); gap {
				s.catchUp(ctx, &seq, from, onEntry, onCovered)
			}
		}
	}
}

// sequence tracks the write sequence numbers of the announcements one
// subscription received.
type sequence struct {
	announced uint64 // last of the previous batch; 0: none yet
	read      uint64 // last read from the change log after a gap
}

// next records batch a and reports whether announcements were missed
// before it, and from which sequence number to read the change log. Writes
// are announced in the order of their sequence numbers, so a batch that
// does not follow the previous one means lost messages (or writes that
// were not announced: a write-back, or an earlier version's one-entry
// message, which carries no number). A batch that starts at or before the
// previous one means a dataset that lost writes under the subscription;
// Subscribe tells the Service (onCovered(0, 0)), whose next pull starts
// over and writes back, and the count starts again.
func (q *sequence) next(a announcement) (from uint64, gap bool) {
	if a.first == 0 {
		return 0, false // the one-entry form
	}
	prev := q.announced
	q.announced = a.last
	switch {
	case prev == 0 || a.first <= prev:
		q.read = 0
		return 0, false
	case a.first <= max(prev, q.read)+1:
		return 0, false // nothing missed, or the log was read past it
	}
	return max(prev, q.read), true
}

// catchUp delivers the entries written after sequence number from, read
// from the change log: what the subscription missed. When the log cannot
// be read, the Service's next incremental pull catches up instead.
func (s *Store) catchUp(ctx context.Context, q *sequence, from uint64, onEntry func(revocation.Entry), onCovered func(after, through uint64)) {
	s.observeGap()
	last, err := s.scan(ctx, from, func(e revocation.Entry) error {
		onEntry(e)
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("revocation announcements missed; the next pull catches up", "err", err)
		}
		return
	}
	q.read = max(q.read, last)
	if last > from {
		onCovered(from, last)
	}
}

// deliver passes the entries of batch a to onEntry, loading the content of
// each session set first, and reports whether it delivered them all; a
// set that could not be loaded is left out.
func (s *Store) deliver(ctx context.Context, a announcement, onEntry func(revocation.Entry)) bool {
	all := true
	for _, e := range a.entries {
		if e.Kind == revocation.KindSIDSet {
			if err := s.loadSet(ctx, &e); errors.Is(err, errSetGone) {
				continue
			} else if err != nil {
				all = false
				continue
			}
		}
		onEntry(e)
	}
	return all
}
