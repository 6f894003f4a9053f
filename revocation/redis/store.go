package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// Defaults for Options fields left empty.
const (
	DefaultKeyPrefix = "jwt-authz:revocation:"
	DefaultChannel   = "jwt-authz:revocations"
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
	// Logger receives reconnection warnings. Default: discard.
	Logger *slog.Logger
}

// Store is a revocation.Shared on Redis.
type Store struct {
	c       goredis.UniversalClient
	prefix  string
	channel string
	log     *slog.Logger

	logKey, expKey, seqKey, epochKey string
}

var _ revocation.Shared = (*Store)(nil)

// New returns a Store using client, which stays the caller's to close.
func New(client goredis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redis: nil client")
	}
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultKeyPrefix
	}
	if opts.Channel == "" {
		opts.Channel = DefaultChannel
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p := opts.KeyPrefix
	return &Store{
		c:        client,
		prefix:   p,
		channel:  opts.Channel,
		log:      opts.Logger,
		logKey:   p + "log",
		expKey:   p + "exp",
		seqKey:   p + "seq",
		epochKey: p + "epoch",
	}, nil
}

func (s *Store) entryKey(m string) string { return s.prefix + "e:" + m }

// Put implements revocation.Store: one atomic script merges, stores,
// sequences and announces the entry.
func (s *Store) Put(ctx context.Context, e revocation.Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if err := s.put(ctx, s.channel, []revocation.Entry{e}); err != nil {
		return fmt.Errorf("put revocation: %w", err)
	}
	return nil
}

// Restore implements revocation.Shared.
func (s *Store) Restore(ctx context.Context, entries []revocation.Entry) error {
	valid := make([]revocation.Entry, 0, len(entries))
	for _, e := range entries {
		if e.Validate() == nil {
			valid = append(valid, e)
		}
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

func (s *Store) put(ctx context.Context, channel string, entries []revocation.Entry) error {
	keys := make([]string, 0, 3+len(entries))
	keys = append(keys, s.logKey, s.expKey, s.seqKey)
	args := make([]any, 0, 1+4*len(entries))
	args = append(args, channel)
	for _, e := range entries {
		m := member(e.Kind, e.Value)
		keys = append(keys, s.entryKey(m))
		args = append(args, m, e.ExpiresAt, e.Before, e.CreatedAt)
	}
	return putScript.Run(ctx, s.c, keys, args...).Err()
}

// Get implements revocation.Store.
func (s *Store) Get(ctx context.Context, kind revocation.Kind, value string) (revocation.Entry, bool, error) {
	m := member(kind, value)
	v, err := s.c.Get(ctx, s.entryKey(m)).Result()
	if errors.Is(err, goredis.Nil) {
		return revocation.Entry{}, false, nil
	}
	if err != nil {
		return revocation.Entry{}, false, fmt.Errorf("get revocation: %w", err)
	}
	e, err := decodeEntry(m, v)
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

// errStop marks an error returned by the caller's callback, which is
// passed through unwrapped.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }

// scan calls fn for every entry whose write sequence number is after seq,
// in order, and returns the last sequence number it saw (seq if none).
// Members whose key has expired are skipped; malformed ones are skipped
// and logged.
func (s *Store) scan(ctx context.Context, seq uint64, fn func(revocation.Entry) error) (uint64, error) {
	for {
		page, err := s.c.ZRangeArgsWithScores(ctx, goredis.ZRangeArgs{
			Key:     s.logKey,
			Start:   "(" + strconv.FormatUint(seq, 10),
			Stop:    "+inf",
			ByScore: true,
			Count:   pageSize,
		}).Result()
		if err != nil {
			return seq, fmt.Errorf("list revocations: %w", err)
		}
		if len(page) == 0 {
			return seq, nil
		}
		keys := make([]string, len(page))
		for i, z := range page {
			m, _ := z.Member.(string)
			keys[i] = s.entryKey(m)
		}
		vals, err := s.c.MGet(ctx, keys...).Result()
		if err != nil {
			return seq, fmt.Errorf("list revocations: %w", err)
		}
		for i, z := range page {
			seq = uint64(z.Score)
			v, ok := vals[i].(string)
			if !ok {
				continue // expired
			}
			m, _ := z.Member.(string)
			e, err := decodeEntry(m, v)
			if err != nil {
				s.log.Warn("skipping malformed revocation record", "err", err)
				continue
			}
			if err := fn(e); err != nil {
				return seq, errStop{err}
			}
		}
		if len(page) < pageSize {
			return seq, nil
		}
	}
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

// Pull implements revocation.Shared.
func (s *Store) Pull(ctx context.Context, from revocation.Cursor, fn func(revocation.Entry) error) (revocation.Cursor, bool, error) {
	gen, head, err := s.head(ctx)
	if err != nil {
		return from, false, fmt.Errorf("pull revocations: %w", err)
	}
	reset := gen != from.Generation || head < from.Seq
	start := from.Seq
	if reset {
		start = 0
	}
	last, err := s.scan(ctx, start, fn)
	var stop errStop
	if errors.As(err, &stop) {
		return from, reset, stop.err
	}
	if err != nil {
		return from, reset, fmt.Errorf("pull revocations: %w", err)
	}
	return revocation.Cursor{Generation: gen, Seq: last}, reset, nil
}

// head returns the dataset generation (epoch marker and server run_id)
// and the current write sequence number.
func (s *Store) head(ctx context.Context) (string, uint64, error) {
	res, err := headScript.Run(ctx, s.c, []string{s.epochKey, s.seqKey}, newEpoch()).StringSlice()
	if err != nil {
		return "", 0, err
	}
	if len(res) != 2 {
		return "", 0, fmt.Errorf("%w: head reply of %d items", errBadRecord, len(res))
	}
	seq, err := strconv.ParseUint(res[1], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%w: sequence %q", errBadRecord, truncate(res[1]))
	}
	runID, err := s.runID(ctx)
	if err != nil {
		return "", 0, err
	}
	return res[0] + "/" + runID, seq, nil
}

// runID returns the server's run_id, which changes on every restart and
// fail-over, or "" when the server does not let us read it (an ACL without
// INFO); the epoch marker then stands alone.
func (s *Store) runID(ctx context.Context) (string, error) {
	info, err := s.c.Info(ctx, "server").Result()
	if err != nil {
		var rerr goredis.Error
		if errors.As(err, &rerr) {
			return "", nil
		}
		return "", err
	}
	for line := range strings.Lines(info) {
		if id, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			return id, nil
		}
	}
	return "", nil
}

// newEpoch returns a fresh random dataset marker.
func newEpoch() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// Close implements revocation.Store. The client is left open.
func (s *Store) Close() error { return nil }
