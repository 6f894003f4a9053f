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
type headerCache struct {
	seed  maphash.Seed
	slots [headerCacheSlots]atomic.Pointer[cachedHeader]
}

type cachedHeader struct {
	segment string
	header  header
	alg     Algorithm
}

func newHeaderCache() *headerCache { return &headerCache{seed: maphash.MakeSeed()} }

func (c *headerCache) slot(segment string) *atomic.Pointer[cachedHeader] {
	return &c.slots[maphash.String(c.seed, segment)%headerCacheSlots]
}

// get returns the decoded header of segment when cached.
func (c *headerCache) get(segment string) (*cachedHeader, bool) {
	e := c.slot(segment).Load()
	if e == nil || e.segment != segment {
		return nil, false
	}
	return e, true
}

// put caches a header that decoded successfully; its segment is copied so
// the cache never pins a whole request.
func (c *headerCache) put(segment string, h header, alg Algorithm) {
	seg := string([]byte(segment))
	h.Crit = nil
	c.slot(seg).Store(&cachedHeader{segment: seg, header: h, alg: alg})
}
