package cache

import (
	"crypto/sha256"
	"encoding/binary"
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

type entry[V any] struct {
	value   V
	expires int64 // unix seconds; the entry is not served at or after it
}

// Cache is a sharded LRU whose entries also expire at a fixed time. The
// zero value is not usable; a nil *Cache is a disabled cache.
type Cache[V any] struct {
	shards [shardCount]*lru.Cache[Key, entry[V]]
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
		s, err := lru.New[Key, entry[V]](per)
		if err != nil {
			return nil, err
		}
		c.shards[i] = s
	}
	return c, nil
}

func (c *Cache[V]) shard(k Key) *lru.Cache[Key, entry[V]] {
	return c.shards[binary.LittleEndian.Uint64(k[:8])%shardCount]
}

// Get returns the value for k when present and not expired at now (unix
// seconds). An expired entry is removed.
func (c *Cache[V]) Get(k Key, now int64) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	s := c.shard(k)
	e, ok := s.Get(k)
	if !ok {
		return zero, false
	}
	if now >= e.expires {
		s.Remove(k)
		return zero, false
	}
	return e.value, true
}

// Add stores v under k until expires (unix seconds).
func (c *Cache[V]) Add(k Key, v V, expires int64) {
	if c == nil {
		return
	}
	c.shard(k).Add(k, entry[V]{value: v, expires: expires})
}

// Remove drops k.
func (c *Cache[V]) Remove(k Key) {
	if c == nil {
		return
	}
	c.shard(k).Remove(k)
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
