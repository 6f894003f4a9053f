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

// tableValue is what a table stores per key hash.
type tableValue[V any] interface {
	comparable
	// merge returns the combination of the receiver (stored) and v (new),
	// and whether it differs from the receiver.
	merge(v V) (V, bool)
	// expires returns the unix second after which the value is dropped.
	expires() int64
}

// expiry is the value of a jti or sid entry: the unix second when it
// expires, in 32 bits (until the year 2106) to keep a million entries
// small. Later expiries are clamped to the last second it holds, which
// only keeps an entry longer.
type expiry uint32

// expiryOf is unix second t as an expiry, clamped to [1, MaxUint32].
func expiryOf(t int64) expiry { return expiry(min(max(t, 1), 1<<32-1)) }

func (e expiry) merge(v expiry) (expiry, bool) { return max(e, v), v > e }
func (e expiry) expires() int64                { return int64(e) }

// cut is a subject cut-off: tokens with iat <= before are revoked until
// until.
type cut struct {
	before int64
	until  int64
}

func (c cut) merge(v cut) (cut, bool) {
	m := cut{before: max(c.before, v.before), until: max(c.until, v.until)}
	return m, m != c
}
func (c cut) expires() int64 { return c.until }

// table maps key hashes to values, behind a filter that answers most
// lookups of absent keys without touching the shards or their locks.
type table[V tableValue[V]] struct {
	n      atomic.Int64
	filter atomic.Pointer[filter]
	// next is the filter being rebuilt, which writers fill too (see
	// maintain).
	next      atomic.Pointer[filter]
	rebuildMu sync.Mutex
	shards    [shardCount]shard[V]
}

type shard[V any] struct {
	mu sync.RWMutex
	m  slots[V]
	// Pad to two cache lines so neighbouring shards' locks do not share one.
	_ [48]byte
}

func (t *table[V]) init() { t.filter.Store(newFilter(0)) }

// get returns the value stored for h. It is lock-free when h is absent and
// the filter knows it.
func (t *table[V]) get(h uint64) (V, bool) {
	var zero V
	h = slotKey(h) // as put stored it, in the filter too
	if t.n.Load() == 0 || !t.filter.Load().mayContain(h) {
		return zero, false
	}
	s := &t.shards[shardOf(h)]
	s.mu.RLock()
	v, ok := s.m.get(h)
	s.mu.RUnlock()
	return v, ok
}

// put merges v into the value stored for h, and returns the result and
// whether it changed anything.
func (t *table[V]) put(h uint64, v V) (V, bool) {
	h = slotKey(h)
	s := &t.shards[shardOf(h)]
	// Most calls during a resync find the entry unchanged: check under the
	// read lock first so they do not block readers. A key the filter has
	// never seen is new (most announced entries are): it goes straight to
	// the write lock, one lookup instead of two.
	if t.filter.Load().mayContain(h) {
		s.mu.RLock()
		cur, ok := s.m.get(h)
		s.mu.RUnlock()
		if ok {
			if _, changed := cur.merge(v); !changed {
				return cur, false
			}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m.get(h)
	if ok {
		merged, changed := cur.merge(v)
		if !changed {
			return cur, false
		}
		s.m.set(h, merged)
		return merged, true
	}
	s.m.set(h, v)
	t.n.Add(1)
	// Load next before filter: together with maintain storing next before
	// it walks the shards and clearing it only after it swapped filter,
	// this guarantees the key reaches whichever filter readers use once
	// this call returns. (If next reads nil, either maintain has not
	// started, and will find the key in the map, or it has finished, and
	// filter is already the new one.)
	if nf := t.next.Load(); nf != nil {
		nf.add(h)
	}
	t.filter.Load().add(h)
	return v, true
}

// sweep deletes entries that expired at or before now and returns how many
// it deleted.
func (t *table[V]) sweep(now int64) int {
	removed := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		removed += s.m.deleteIf(func(v V) bool { return v.expires() <= now })
		s.mu.Unlock()
	}
	t.n.Add(int64(-removed))
	return removed
}

// maintain rebuilds the filter when it has taken more keys than it was
// sized for (its false-positive rate climbs) or when the table shrank to a
// small fraction of it (deleted keys linger in it). It reports whether it
// rebuilt. Lookups and writes go on meanwhile.
func (t *table[V]) maintain() bool {
	t.rebuildMu.Lock()
	defer t.rebuildMu.Unlock()
	f := t.filter.Load()
	n := t.n.Load()
	if f.added.Load() <= f.capacity && (n >= f.capacity/4 || f.capacity <= minFilterCapacity) {
		return false
	}
	nf := newFilter(n + n/4)
	t.next.Store(nf)
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		s.m.each(nf.add)
		s.mu.RUnlock()
	}
	t.filter.Store(nf)
	t.next.Store(nil)
	return true
}
