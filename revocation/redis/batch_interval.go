package redis

import (
	"context"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The spacing of announcements under load when Options.AnnounceInterval
// is left zero: AnnounceSpacingPerSubscriber times the replicas
// subscribed to the channel, at most MaxAnnounceInterval.
//
// Redis pays about 4 µs per message and subscriber, besides the bytes, so
// 20 µs per subscriber keeps one writer's messages to about a fifth of a
// core of such overhead whatever the rate: with 10 replicas a batch goes
// out every 0.2 ms at most (the 2 ms delay decides), with 100 every 2 ms,
// with 1,000 every 20 ms, with 5,000 or more every 100 ms. The bound keeps
// a revocation under load from waiting longer than that for its batch.
const (
	AnnounceSpacingPerSubscriber = 20 * time.Microsecond
	MaxAnnounceInterval          = 100 * time.Millisecond
)

// subscribersRefresh is how often a writer counts the subscribers again
// (one PUBSUB NUMSUB), after a flush.
const subscribersRefresh = 5 * time.Second

// intervalNow is the least time from one flush to the next.
func (b *batcher) intervalNow() time.Duration {
	switch {
	case b.interval < 0:
		return 0
	case b.interval > 0:
		return b.interval
	}
	return min(time.Duration(b.subscribers.Load())*AnnounceSpacingPerSubscriber, MaxAnnounceInterval)
}

// maybeRefresh counts the subscribers again when the interval follows
// them and the count is older than subscribersRefresh. It runs after a
// flush, off every caller's path; until the first count the interval is
// zero (the delay alone).
func (b *batcher) maybeRefresh() {
	now := time.Now().UnixNano()
	if b.interval != 0 || now-b.counted.Load() < int64(subscribersRefresh) || !b.counting.CompareAndSwap(false, true) {
		return
	}
	defer b.counting.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	b.counted.Store(now) // on failure too: the next try is after the same wait
	err := b.refreshSubscribers(ctx)
	// One warning when counting starts failing (an ACL without PUBSUB, for
	// one), one line when it works again: batches keep the previous count.
	if failing := err != nil; b.countFailing.Swap(failing) != failing {
		if failing {
			b.s.log.Warn("revocation announcements: counting the channel's subscribers failed; batches keep the previous spacing until it works", "err", err)
		} else {
			b.s.log.Info("revocation announcements: counting the channel's subscribers works again", "subscribers", b.subscribers.Load())
		}
	}
}

// refreshSubscribers counts the subscribers of the channel. A failure
// keeps the previous count.
func (b *batcher) refreshSubscribers(ctx context.Context) error {
	n, err := b.s.subscribers(ctx)
	if err != nil {
		return err
	}
	b.subscribers.Store(n)
	return nil
}

// subscribers returns how many clients are subscribed to the channel:
// with sharded pub/sub, on the primary of the keys' slot, where the
// fan-out happens; with plain pub/sub in a Cluster, on every node, since a
// PUBLISH is broadcast to all of them and a subscriber may sit on any (a
// go-redis ClusterClient subscribes on the primary of the channel's slot,
// or a replica of it with ReadOnly; other clients anywhere).
func (s *Store) subscribers(ctx context.Context) (int64, error) {
	sharded, err := s.useSharded(ctx)
	if err != nil {
		return 0, err
	}
	cc, cluster := s.c.(*goredis.ClusterClient)
	switch {
	case sharded && cluster:
		node, err := cc.MasterForKey(ctx, s.seqKey)
		if err != nil {
			return 0, err
		}
		return numSub(node.PubSubShardNumSub(ctx, s.channel), s.channel)
	case sharded:
		return numSub(s.c.PubSubShardNumSub(ctx, s.channel), s.channel)
	case cluster:
		var total atomic.Int64
		err := cc.ForEachShard(ctx, func(ctx context.Context, node *goredis.Client) error {
			n, err := numSub(node.PubSubNumSub(ctx, s.channel), s.channel)
			total.Add(n)
			return err
		})
		return total.Load(), err
	}
	return numSub(s.c.PubSubNumSub(ctx, s.channel), s.channel)
}

func numSub(cmd *goredis.MapStringIntCmd, channel string) (int64, error) {
	m, err := cmd.Result()
	return m[channel], err
}
