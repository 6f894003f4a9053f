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
func (s *Store) Subscribe(ctx context.Context, onEntry func(revocation.Entry), onSubscribed func()) error {
	backoff := retryBackoff
	for ctx.Err() == nil {
		healthy := s.subscribeOnce(ctx, onEntry, onSubscribed)
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
func (s *Store) subscribeOnce(ctx context.Context, onEntry func(revocation.Entry), onSubscribed func()) (subscribed bool) {
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
			e, err := decodeMessage(m.Payload)
			if err != nil {
				s.log.Warn("ignoring malformed revocation announcement", "err", err)
				continue
			}
			onEntry(e)
		}
	}
}
