package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// Pull implements revocation.Shared.
func (s *Store) Pull(ctx context.Context, from revocation.Cursor, fn func(revocation.Entry) error) (revocation.Cursor, bool, error) {
	gen, head, err := s.head(ctx)
	if err != nil {
		return from, false, fmt.Errorf("read the write sequence: %w", err)
	}
	reset := gen != from.Generation || head < from.Seq
	start := from.Seq
	if reset {
		start = 0
	} else if head == start {
		// Nothing written since from: the usual answer when the caller's
		// cursor follows the announcements.
		return revocation.Cursor{Generation: gen, Seq: head}, false, nil
	}
	last, err := s.scan(ctx, start, fn)
	var stop errStop
	if errors.As(err, &stop) {
		return from, reset, stop.err
	}
	if err != nil {
		return from, reset, fmt.Errorf("scan the revocation log: %w", err)
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
	info, err := s.primaryInfo(ctx)
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

// errStop marks an error returned by the caller's callback, which is
// passed through unwrapped.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }

// scan calls fn for every entry whose write sequence number is after seq,
// in order, and returns the last sequence number it saw (seq if none).
// Members whose key has expired are skipped; malformed ones are skipped
// and logged. A session set's content is loaded before fn sees it; when
// it cannot be, scan stops with an error and returns the number before it.
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
			v, ok := vals[i].(string)
			if !ok {
				seq = uint64(z.Score)
				continue // expired
			}
			m, _ := z.Member.(string)
			e, err := decodeEntry(m, v)
			if err != nil {
				s.log.Warn("skipping malformed revocation record", "err", err)
				seq = uint64(z.Score)
				continue
			}
			if e.Kind == revocation.KindSIDSet {
				// A set whose content cannot be loaded is not skipped: the
				// scan stops before it, and the caller's next pull tries
				// again from there.
				if err := s.loadSet(ctx, &e); errors.Is(err, errSetGone) {
					seq = uint64(z.Score)
					continue
				} else if err != nil {
					return seq, err
				}
			}
			seq = uint64(z.Score)
			if err := fn(e); err != nil {
				return seq, errStop{err}
			}
		}
		if len(page) < pageSize {
			return seq, nil
		}
	}
}
