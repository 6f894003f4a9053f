package revocation

import (
	"sync"
	"sync/atomic"
)

// The index tables are sharded by the top bits of the key hash so that a
// writer (a new revocation, a resync, the expiry sweep) only ever blocks the
// readers of one shard, and readers on different cores do not contend on
// one lock word.
const (
	shardBits  = 6
	shardCount = 1 << shardBits
)

func shardOf(h uint64) uint64 { return h >> (64 - shardBits) }

// idTable maps a key hash to the expiry (unix seconds) of a jti or sid
// entry.
type idTable struct {
	n      atomic.Int64
	shards [shardCount]idShard
}

type idShard struct {
	mu sync.RWMutex
	m  map[uint64]int64
	// Pad to a cache line so neighbouring shards' locks do not share one.
	_ [40]byte
}

// has reports whether h is present. A present entry counts even if it has
// expired but was not swept yet: its token has expired too, so the answer
// is the same and Check needs no clock.
func (t *idTable) has(h uint64) bool {
	s := &t.shards[shardOf(h)]
	s.mu.RLock()
	_, ok := s.m[h]
	s.mu.RUnlock()
	return ok
}

// get returns the expiry stored for h.
func (t *idTable) get(h uint64) (int64, bool) {
	s := &t.shards[shardOf(h)]
	s.mu.RLock()
	exp, ok := s.m[h]
	s.mu.RUnlock()
	return exp, ok
}

// put stores exp for h unless an equal or later expiry is stored, and
// reports whether it changed anything.
func (t *idTable) put(h uint64, exp int64) bool {
	s := &t.shards[shardOf(h)]
	// Most calls during a resync find the entry already there: check under
	// the read lock first so they do not block Check.
	s.mu.RLock()
	cur, ok := s.m[h]
	s.mu.RUnlock()
	if ok && cur >= exp {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok = s.m[h]
	if ok && cur >= exp {
		return false
	}
	if s.m == nil {
		s.m = make(map[uint64]int64)
	}
	s.m[h] = exp
	if !ok {
		t.n.Add(1)
	}
	return true
}

// sweep deletes entries whose expiry is at or before now.
func (t *idTable) sweep(now int64) int {
	removed := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for h, exp := range s.m {
			if exp <= now {
				delete(s.m, h)
				removed++
			}
		}
		s.mu.Unlock()
	}
	t.n.Add(int64(-removed))
	return removed
}

// cut is a subject cut-off: tokens with iat < before are revoked until
// expires.
type cut struct {
	before  int64
	expires int64
}

// cutTable maps a subject hash to its cut-off.
type cutTable struct {
	n      atomic.Int64
	shards [shardCount]cutShard
}

type cutShard struct {
	mu sync.RWMutex
	m  map[uint64]cut
	_  [40]byte
}

func (t *cutTable) get(h uint64) (cut, bool) {
	s := &t.shards[shardOf(h)]
	s.mu.RLock()
	c, ok := s.m[h]
	s.mu.RUnlock()
	return c, ok
}

// put merges c into the stored cut-off (later before, later expiry) and
// returns the result and whether it changed anything.
func (t *cutTable) put(h uint64, c cut) (cut, bool) {
	s := &t.shards[shardOf(h)]
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m[h]
	if ok && cur.before >= c.before && cur.expires >= c.expires {
		return cur, false
	}
	if ok {
		c.before = max(c.before, cur.before)
		c.expires = max(c.expires, cur.expires)
	}
	if s.m == nil {
		s.m = make(map[uint64]cut)
	}
	s.m[h] = c
	if !ok {
		t.n.Add(1)
	}
	return c, true
}

func (t *cutTable) sweep(now int64) int {
	removed := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for h, c := range s.m {
			if c.expires <= now {
				delete(s.m, h)
				removed++
			}
		}
		s.mu.Unlock()
	}
	t.n.Add(int64(-removed))
	return removed
}
