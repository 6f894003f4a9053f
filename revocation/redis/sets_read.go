package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// setReplicaWait bounds how long a set's writer waits for the primary's
// replicas to hold its content before writing its entry (Store.setWait).
const setReplicaWait = time.Second

// fetchSet reads the content of the set stored under member m, checked
// against header h: through the set reader when there is one, and again
// through the main client (the primary) when that read fails or does not
// match h, as it does on a replica that has not received the content yet
// or no longer has it.
func (s *Store) fetchSet(ctx context.Context, m string, h setHeader) (*revocation.SIDSet, error) {
	if s.reader == nil {
		return s.fetchSetFrom(ctx, s.c, m, h)
	}
	set, err := s.fetchSetFrom(ctx, s.reader, m, h)
	if err == nil || ctx.Err() != nil {
		return set, err
	}
	s.observeSetFallback()
	s.log.Debug("session set read again from the primary", "err", err)
	return s.fetchSetFrom(ctx, s.c, m, h)
}

// waitSetReplicated waits, for at most s.setWait, until every
// replica connected to the primary holding the session set stored under
// member m has its content, so that the replicas that read sets (see
// Options.SetReader) find it there, and a failover right after the write
// keeps it. Only the content needs this: the entry that announces it is
// written afterwards and, like any entry, written back by every replica
// if a failover loses it.
//
// WAIT counts the writes of its own connection, so it follows a small
// write of its own (a marker that expires with the wait); the replication
// stream is in order, so a replica that has that write has every chunk
// written before it. A primary without replicas, a client that is neither
// a plain nor a Cluster client, or replicas too slow, only cost replica
// readers a read from the primary: the error is not the caller's.
func (s *Store) waitSetReplicated(ctx context.Context, m string) (acked, replicas int) {
	var node *goredis.Client
	switch c := s.c.(type) {
	case *goredis.ClusterClient:
		n, err := c.MasterForKey(ctx, s.setHeaderKey(m))
		if err != nil {
			return 0, 0
		}
		node = n
	case *goredis.Client:
		node = c
	default:
		return 0, 0
	}
	conn := node.Conn()
	defer conn.Close()
	info, err := conn.Info(ctx, "replication").Result()
	if err != nil {
		return 0, 0
	}
	replicas, _ = strconv.Atoi(infoField(info, "connected_slaves"))
	if replicas == 0 {
		return 0, 0
	}
	if err := conn.Set(ctx, s.setHeaderKey(m)+":sync", "1", s.setWait).Err(); err != nil {
		return 0, replicas
	}
	acked, err = conn.Do(ctx, "WAIT", replicas, s.setWait.Milliseconds()).Int()
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			s.log.Debug("waiting for replicas of a session set", "err", err)
		}
		return 0, replicas
	}
	if acked < replicas {
		s.log.Debug("session set not yet on every replica; their readers read it from the primary",
			"replicas", replicas, "acknowledged", acked)
	}
	return acked, replicas
}

// fetchSetFrom reads, through c, the chunks of the set stored under
// member m and checks them against header h.
func (s *Store) fetchSetFrom(ctx context.Context, c goredis.Cmdable, m string, h setHeader) (*revocation.SIDSet, error) {
	b := revocation.NewSortedSIDSetBuilder(h.count)
	sum := sha256.New()
	err := s.eachChunk(ctx, c, m, h, func(i int, chunk string, hashes int) error {
		raw := []byte(chunk)
		sum.Write(raw)
		if err := decodeChunk(raw, hashes, b.Add); err != nil {
			return fmt.Errorf("%w: session set chunk %d: %w", errBadRecord, i, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h.sum {
		return nil, fmt.Errorf("%w: session set content does not match its SHA-256", errBadRecord)
	}
	return b.Set(), nil
}

// eachChunk reads through c the chunks of the set stored under member m
// (MGET of setChunksPerCall chunks at a time) and calls fn with each, in
// order, with the number of hashes it holds.
func (s *Store) eachChunk(ctx context.Context, c goredis.Cmdable, m string, h setHeader, fn func(i int, chunk string, hashes int) error) error {
	keys := make([]string, 0, setChunksPerCall)
	for i := 0; i < h.chunks; i += setChunksPerCall {
		j := min(i+setChunksPerCall, h.chunks)
		keys = keys[:0]
		for k := i; k < j; k++ {
			keys = append(keys, s.setChunkKey(m, k))
		}
		vals, err := c.MGet(ctx, keys...).Result()
		if err != nil {
			return err
		}
		for k, v := range vals {
			chunk, ok := v.(string)
			if !ok {
				return fmt.Errorf("%w: session set chunk %d missing", errBadRecord, i+k)
			}
			n := setChunkHashes
			if i+k == h.chunks-1 {
				n = h.count - (h.chunks-1)*setChunkHashes
			}
			if err := fn(i+k, chunk, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReadSetContent reads the stored content of the session set id (of
// provider, "" for every provider) as a replica's load does, its header
// from the primary and its chunks through Options.SetReader (again from
// the primary when that fails), but neither checks nor decodes it, and
// returns the bytes read. It is what Redis serves each replica of a mass
// logout, for load simulations that stand in for many replicas; a replica
// loads a set with its entry.
func (s *Store) ReadSetContent(ctx context.Context, provider, id string) (int64, error) {
	m := member(revocation.KindSIDSet, provider, id)
	v, err := s.c.Get(ctx, s.setHeaderKey(m)).Result()
	if err != nil {
		return 0, fmt.Errorf("read session set %s: %w", id, err)
	}
	h, err := parseSetHeader(v)
	if err != nil {
		return 0, fmt.Errorf("read session set %s: %w", id, err)
	}
	var n int64
	count := func(_ int, chunk string, _ int) error {
		n += int64(len(chunk))
		return nil
	}
	if s.reader != nil {
		if err = s.eachChunk(ctx, s.reader, m, h, count); err == nil || ctx.Err() != nil {
			return n, err
		}
		s.observeSetFallback()
		n = 0
	}
	if err := s.eachChunk(ctx, s.c, m, h, count); err != nil {
		return n, fmt.Errorf("read session set %s: %w", id, err)
	}
	return n, nil
}
