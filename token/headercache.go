package token

import (
	"hash/maphash"
	"sync/atomic"
)

// headerCacheSlots is the size of the decoded-header cache. Tokens of one
// issuer and key share one header segment, so a few slots serve all normal
// traffic; the bound keeps made-up headers from growing it.
const headerCacheSlots = 1024

// headerCache is a direct-mapped, lock-free cache from a token's header
// segment to its decoded header. A collision simply replaces the slot.
//
// A header whose kid no provider has is admitted only at its second
// sighting: refused records the segment's hash in its slot's doorkeeper,
// so that a flood of made-up kids, each seen once, neither allocates nor
// evicts the headers in use, while a bad token sent again and again is
// answered from the cache.
type headerCache struct {
	seed    maphash.Seed
	slots   [headerCacheSlots]atomic.Pointer[cachedHeader]
	refusal [headerCacheSlots]atomic.Uint64
}

type cachedHeader struct {
	segment string
	header  header
	alg     Algorithm
}

func newHeaderCache() *headerCache { return &headerCache{seed: maphash.MakeSeed()} }

// hash is the seeded hash of a header segment; never 0.
func (c *headerCache) hash(segment string) uint64 {
	return maphash.String(c.seed, segment) | 1
}

// get returns the decoded header of segment when cached, and the segment's
// hash for put and refused.
func (c *headerCache) get(segment string) (*cachedHeader, uint64) {
	h := c.hash(segment)
	e := c.slots[h%headerCacheSlots].Load()
	if e == nil || e.segment != segment {
		return nil, h
	}
	return e, h
}

// put caches a header that decoded successfully; its segment is copied so
// the cache never pins a whole request.
func (c *headerCache) put(segment string, h uint64, hd header, alg Algorithm) {
	seg := string([]byte(segment))
	c.slots[h%headerCacheSlots].Store(&cachedHeader{segment: seg, header: hd, alg: alg})
}

// refused records that the segment of hash h was refused for its kid, and
// reports whether it was the last refusal recorded in its slot: the second
// sighting, which admits it.
func (c *headerCache) refused(h uint64) bool {
	return c.refusal[h%headerCacheSlots].Swap(h) == h
}
