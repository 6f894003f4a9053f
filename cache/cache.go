package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"unsafe"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Key is the SHA-256 of a token's bytes.
type Key [sha256.Size]byte

// KeyOf hashes a token. The string's bytes are hashed in place: Sum256
// neither keeps nor modifies its argument, and a copy would be the one
// allocation of a cached Check.
func KeyOf(token string) Key {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

const shardCount = 16

// restSize is how many bytes of a Key an entry keeps beyond the 8 that
// index the shard maps: 8 + 20 bytes make a 224-bit match, as strong as
// SHA-224, so a token with a different hash never reads another's entry.
const restSize = 20

// entry is what a shard map holds under the first 8 bytes of a Key. Its
// layout is sized to the allocator: with an 8-byte value, golang-lru's
// list element for it is 96 bytes, and a map slot 16.
type entry[V any] struct {
	rest    [restSize]byte
	expires uint32 // unix seconds; the entry is not served at or after it
	value   V
}

// Cache is a sharded LRU whose entries also expire at a fixed time. The
// zero value is not usable; a nil *Cache is a disabled cache.
//
// Values should be one pointer wide (see entry): larger ones work, but
// cost memory in every entry.
type Cache[V any] struct {
	shards [shardCount]*lru.Cache[uint64, entry[V]]
}

// New returns a cache holding at most maxEntries (split evenly over the
// shards), or nil when maxEntries is 0, which disables caching.
func New[V any](maxEntries int) (*Cache[V], error) {
	if maxEntries <= 0 {
		return nil, nil
	}
	per := max(maxEntries/shardCount, 1)
	c := &Cache[V]{}
	for i := range c.shards {
		s, err := lru.New[uint64, entry[V]](per)
		if err != nil {
			return nil, err
		}
		c.shards[i] = s
	}
	return c, nil
}

// split returns the shard and map key of k, and the bytes the entry must
// match.
func (c *Cache[V]) split(k *Key) (*lru.Cache[uint64, entry[V]], uint64, [restSize]byte) {
	id := binary.LittleEndian.Uint64(k[:8])
	return c.shards[id%shardCount], id, [restSize]byte(k[8 : 8+restSize])
}

// Get returns the value for k when present and not expired at now (unix
// seconds). An expired entry is removed.
func (c *Cache[V]) Get(k Key, now int64) (V, bool) {
	v, _, ok := c.GetExpiring(k, now)
	return v, ok
}

// GetExpiring is Get, and also returns when the entry expires (unix
// seconds).
func (c *Cache[V]) GetExpiring(k Key, now int64) (V, int64, bool) {
	var zero V
	if c == nil {
		return zero, 0, false
	}
	s, id, rest := c.split(&k)
	e, ok := s.Get(id)
	if !ok || e.rest != rest {
		// A different token whose hash shares the first 8 bytes holds
		// the slot: a miss, and the Add after verifying replaces it.
		return zero, 0, false
	}
	if now >= int64(e.expires) {
		s.Remove(id)
		return zero, 0, false
	}
	return e.value, int64(e.expires), true
}

// Add stores v under k until expires (unix seconds), replacing whatever
// the slot of k held. Expiries past 2106 are kept as 2106; ones at or
// before 1970 are not stored.
func (c *Cache[V]) Add(k Key, v V, expires int64) {
	if c == nil || expires <= 0 {
		return
	}
	s, id, rest := c.split(&k)
	s.Add(id, entry[V]{rest: rest, expires: uint32(min(expires, math.MaxUint32)), value: v})
}

// Remove drops k. An entry of a different key in k's slot is left alone.
func (c *Cache[V]) Remove(k Key) {
	if c == nil {
		return
	}
	s, id, rest := c.split(&k)
	if e, ok := s.Peek(id); ok && e.rest == rest {
		s.Remove(id)
	}
}

// Purge drops every entry.
func (c *Cache[V]) Purge() {
	if c == nil {
		return
	}
	for _, s := range c.shards {
		s.Purge()
	}
}

// Len is the number of entries held, expired ones included until touched.
func (c *Cache[V]) Len() int {
	if c == nil {
		return 0
	}
	n := 0
	for _, s := range c.shards {
		n += s.Len()
	}
	return n
}
