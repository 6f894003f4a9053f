package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// Defaults for Options fields left empty.
const (
	DefaultKeyPrefix = "jwt-authz:revocation:"
	DefaultChannel   = "jwt-authz:revocations"
)

// Key prefix and channel in a Redis Cluster. The hash tag puts every key
// and the shard channel in one slot, so each script's keys are on one node.
// A single server and Sentinel keep the untagged names, which earlier
// versions use too.
const (
	ClusterKeyPrefix = "{jwt-authz:revocation}:"
	ClusterChannel   = "{jwt-authz:revocation}:announce"
)

// pageSize is how many entries one round trip of Pull, List or
// DeleteExpired handles.
const pageSize = 1000

// Options configure a Store. The zero value is the production setting.
type Options struct {
	// KeyPrefix is put before every key. Default DefaultKeyPrefix. Tests
	// sharing one server use distinct prefixes.
	KeyPrefix string
	// Channel is the pub/sub channel for announcements. Default
	// DefaultChannel.
	Channel string
	// Cluster says the client is a Redis Cluster client: KeyPrefix and
	// Channel default to ClusterKeyPrefix and ClusterChannel, and
	// announcements use sharded pub/sub (SPUBLISH, SSUBSCRIBE) when the
	// primary of the keys' slot is Redis 7 or later, plain PUBLISH and
	// SUBSCRIBE (which a Cluster broadcasts to every node) before.
	Cluster bool
	// PlainPubSub turns sharded pub/sub off in a Cluster (for tests of the
	// fallback).
	PlainPubSub bool
	// Logger receives reconnection warnings. Default: discard.
	Logger *slog.Logger
	// AnnounceDelay is how long a Put waits for others to share its write
	// and announcement (see DefaultAnnounceDelay); a batch is written
	// sooner when it reaches AnnounceMaxBytes. Default
	// DefaultAnnounceDelay; negative: every Put is written and announced
	// alone, at once.
	AnnounceDelay time.Duration
	// AnnounceInterval is the least time between two batches a Store
	// writes, unless the second is full: under load a batch waits for it
	// rather than for AnnounceDelay alone. It is also the least time
	// between two messages of all writers together: a message sets a
	// marker in Redis for it, and entries written meanwhile wait for it
	// (see the package documentation). Zero (the default) follows the
	// channel's subscribers (see AnnounceSpacingPerSubscriber); negative:
	// none (this Store sets no marker, but waits for other writers' ones).
	AnnounceInterval time.Duration
	// AnnounceMaxBytes bounds the announcement of one batch, and the
	// entries pending in Redis, which go out at once when they reach it.
	// Default DefaultAnnounceMaxBytes.
	AnnounceMaxBytes int
	// Metrics records batch sizes and announcement gaps; nil records
	// nothing.
	Metrics *Metrics
	// SetReader, when set, is the client the content of session sets is
	// read through: one that spreads reads over the primary and its
	// replicas (NewSentinelReadClient, NewClusterReadClient), so that a
	// mass logout read by every replica at once does not all leave one
	// node. Content is checked against its header, read from the primary;
	// a read that fails or does not match is made again through the main
	// client. It stays the caller's to close. Nil: the main client.
	SetReader goredis.UniversalClient
}

// Store is a revocation.Shared on Redis.
type Store struct {
	c       goredis.UniversalClient
	reader  goredis.UniversalClient // session set content; nil: c
	setWait time.Duration           // for a set's replicas (setReplicaWait)
	prefix  string
	channel string
	log     *slog.Logger
	metrics *Metrics
	batches batcher
	sets    setCache // session sets written or loaded
	flushes flusher

	// shardable is whether sharded pub/sub may be used; sharded caches
	// what the server supports: 0 not yet known, 1 yes, 2 no.
	shardable bool
	sharded   atomic.Int32

	logKey, expKey, seqKey, epochKey string
	// the spacing of announcements across writers (see announceSource)
	pendingKey, stateKey, markerKey string
}

var _ revocation.Shared = (*Store)(nil)

// New returns a Store using client, which stays the caller's to close.
func New(client goredis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redis: nil client")
	}
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultKeyPrefix
		if opts.Cluster {
			opts.KeyPrefix = ClusterKeyPrefix
		}
	}
	if opts.Channel == "" {
		opts.Channel = DefaultChannel
		if opts.Cluster {
			opts.Channel = ClusterChannel
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.AnnounceDelay == 0 {
		opts.AnnounceDelay = DefaultAnnounceDelay
	}
	if opts.AnnounceMaxBytes <= 0 {
		opts.AnnounceMaxBytes = DefaultAnnounceMaxBytes
	}
	p := opts.KeyPrefix
	s := &Store{
		c:         client,
		reader:    opts.SetReader,
		setWait:   setReplicaWait,
		prefix:    p,
		channel:   opts.Channel,
		shardable: opts.Cluster && !opts.PlainPubSub,
		log:       opts.Logger,
		metrics:   opts.Metrics,
		logKey:    p + "log",
		expKey:    p + "exp",
		seqKey:    p + "seq",
		epochKey:  p + "epoch",

		pendingKey: p + "pending",
		markerKey:  p + "announced",
		stateKey:   p + "pending-state",
	}
	s.batches = batcher{s: s, delay: opts.AnnounceDelay, interval: opts.AnnounceInterval, maxBytes: opts.AnnounceMaxBytes}
	return s, nil
}

func (s *Store) entryKey(m string) string { return s.prefix + "e:" + m }

// Put implements revocation.Store: one atomic script merges, stores,
// sequences and announces the entry, together with those of the Puts
// that came within Options.AnnounceDelay, or under load within the
// interval after the previous batch (Options.AnnounceInterval; one script
// call, one message).
// Put returns once that script call has stored the entry.
func (s *Store) Put(ctx context.Context, e revocation.Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if e.Kind == revocation.KindSIDSet {
		// The content first: the entry's write announces it.
		if err := s.writeSet(ctx, e); err != nil {
			return fmt.Errorf("put revocation: %w", err)
		}
		s.waitSetReplicated(ctx, member(e.Kind, e.Provider, e.Value))
	}
	if err := s.batches.put(ctx, e); err != nil {
		return fmt.Errorf("put revocation: %w", err)
	}
	return nil
}

// Restore implements revocation.Shared.
func (s *Store) Restore(ctx context.Context, entries []revocation.Entry) error {
	valid := make([]revocation.Entry, 0, len(entries))
	for _, e := range entries {
		if e.Validate() != nil {
			continue
		}
		if e.Kind == revocation.KindSIDSet {
			if err := s.writeSet(ctx, e); err != nil {
				return fmt.Errorf("restore revocations: %w", err)
			}
			s.waitSetReplicated(ctx, member(e.Kind, e.Provider, e.Value))
		}
		valid = append(valid, e)
	}
	for len(valid) > 0 {
		n := min(len(valid), pageSize)
		if err := s.put(ctx, "", valid[:n]); err != nil {
			return fmt.Errorf("restore revocations: %w", err)
		}
		valid = valid[n:]
	}
	return nil
}

// put runs putScript on entries, announcing them on channel (none: ""),
// and schedules a flush when some are left pending.
func (s *Store) put(ctx context.Context, channel string, entries []revocation.Entry) error {
	keys := make([]string, 0, 6+len(entries))
	keys = append(keys, s.seqKey, s.pendingKey, s.stateKey, s.markerKey, s.logKey, s.expKey)
	args := make([]any, 0, 3+putArgs*len(entries))
	args = append(args, channel, intervalMillis(s.batches.intervalNow()), s.batches.maxBytes)
	for _, e := range entries {
		m := member(e.Kind, e.Provider, e.Value)
		keys = append(keys, s.entryKey(m))
		ident, size := "", 0
		if channel != "" {
			ident, size = compactIdent(e), announceSize(e)
		}
		args = append(args, m, e.ExpiresAt, e.Before, e.CreatedAt, ident, size)
	}
	script := putScript
	if channel != "" {
		sharded, err := s.useSharded(ctx)
		if err != nil {
			return err
		}
		if sharded {
			script = sputScript
		}
	}
	res, err := script.Run(ctx, s.c, keys, args...).Int64Slice()
	if err != nil {
		return err
	}
	if len(res) == 2 && res[1] > 0 {
		s.flushes.schedule(s, s.retryAfter(res[1]))
	}
	return nil
}

// Get implements revocation.Store.
func (s *Store) Get(ctx context.Context, kind revocation.Kind, provider, value string) (revocation.Entry, bool, error) {
	m := member(kind, provider, value)
	v, err := s.c.Get(ctx, s.entryKey(m)).Result()
	if errors.Is(err, goredis.Nil) {
		return revocation.Entry{}, false, nil
	}
	if err != nil {
		return revocation.Entry{}, false, fmt.Errorf("get revocation: %w", err)
	}
	e, err := decodeEntry(m, v)
	if err == nil && e.Kind == revocation.KindSIDSet {
		err = s.loadSet(ctx, &e)
		if errors.Is(err, errSetGone) {
			return revocation.Entry{}, false, nil
		}
	}
	if err != nil {
		return revocation.Entry{}, false, fmt.Errorf("get revocation: %w", err)
	}
	return e, true, nil
}

// List implements revocation.Store.
func (s *Store) List(ctx context.Context, now time.Time, fn func(revocation.Entry) error) error {
	_, err := s.scan(ctx, 0, func(e revocation.Entry) error {
		if e.ExpiresAt <= now.Unix() {
			return nil
		}
		return fn(e)
	})
	var stop errStop
	if errors.As(err, &stop) {
		return stop.err
	}
	return err
}

// DeleteExpired implements revocation.Store. Redis drops expired entry
// keys by itself; this removes them from the sorted sets too.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	nowStr := strconv.FormatInt(now.Unix(), 10)
	total := 0
	for {
		members, err := s.c.ZRangeArgs(ctx, goredis.ZRangeArgs{
			Key:     s.expKey,
			Start:   "-inf",
			Stop:    nowStr,
			ByScore: true,
			Count:   pageSize,
		}).Result()
		if err != nil {
			return total, fmt.Errorf("delete expired revocations: %w", err)
		}
		if len(members) == 0 {
			return total, nil
		}
		keys := make([]string, 0, 2+len(members))
		keys = append(keys, s.logKey, s.expKey)
		args := make([]any, 0, 1+len(members))
		args = append(args, nowStr)
		for _, m := range members {
			keys = append(keys, s.entryKey(m))
			args = append(args, m)
		}
		n, err := deleteScript.Run(ctx, s.c, keys, args...).Int()
		if err != nil {
			return total, fmt.Errorf("delete expired revocations: %w", err)
		}
		total += n
		if len(members) < pageSize {
			return total, nil
		}
	}
}

// Close implements revocation.Store. The client is left open. Entries
// this Store left pending are announced by the next write of any writer,
// or read by every replica's pull (see the package documentation).
func (s *Store) Close() error {
	s.flushes.close()
	return nil
}

// useSharded reports whether announcements use sharded pub/sub: in a
// Cluster whose primary for the keys' slot runs Redis 7 or later. Every
// replica asks the same primary, so all of them choose alike.
func (s *Store) useSharded(ctx context.Context) (bool, error) {
	if !s.shardable {
		return false, nil
	}
	switch s.sharded.Load() {
	case 1:
		return true, nil
	case 2:
		return false, nil
	}
	info, err := s.primaryInfo(ctx)
	if err != nil {
		return false, err
	}
	yes := atLeast(infoField(info, "redis_version"), 7, 0)
	if yes {
		s.sharded.Store(1)
	} else {
		s.sharded.Store(2)
	}
	return yes, nil
}

// primaryInfo returns INFO server of the primary holding the keys (in a
// Cluster, of the keys' slot).
func (s *Store) primaryInfo(ctx context.Context) (string, error) {
	if cc, ok := s.c.(*goredis.ClusterClient); ok {
		node, err := cc.MasterForKey(ctx, s.seqKey)
		if err != nil {
			return "", err
		}
		return node.Info(ctx, "server").Result()
	}
	return s.c.Info(ctx, "server").Result()
}
