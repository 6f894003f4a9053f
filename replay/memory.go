package replay

import (
	"context"
	"sync"
	"time"
)

// memoryShards splits a large Memory cache so that concurrent claims
// rarely wait on one lock. Small caches (tests, tiny limits) use one shard
// so that the bound is exact.
const (
	memoryShards       = 16
	minEntriesPerShard = 1024
)

// Memory is a bounded, expiring Cache for one process.
//
// When it holds maxEntries unexpired ids it refuses new ones with ErrFull
// instead of evicting any. The other choice, evicting the oldest
// unexpired id (what an LRU does), would let whoever can get ids claimed —
// any holder of a DPoP key can mint proofs with fresh jtis at will — push
// a victim's id out and then replay it: a silent wrong allow. Refusing
// when full turns the same flood into refused requests until the flooded
// ids expire, which is visible (the error reaches logs and metrics) and
// bounded by the ids' lifetime (a DPoP proof window, five minutes for a
// logout token). Expired ids are dropped first, so a full cache refuses
// only while it is really full of live ids. Size maxEntries for the peak
// rate times the longest window.
type Memory struct {
	shards []memoryShard
	now    func() time.Time
}

type memoryShard struct {
	mu    sync.Mutex
	max   int
	until map[digest]int64 // unix nanoseconds
	order expiryHeap
}

// NewMemory returns a Memory cache holding at most maxEntries unexpired
// ids (at least 1).
func NewMemory(maxEntries int) *Memory {
	return newMemory(maxEntries, time.Now)
}

func newMemory(maxEntries int, now func() time.Time) *Memory {
	if maxEntries < 1 {
		maxEntries = 1
	}
	n := 1
	if maxEntries >= memoryShards*minEntriesPerShard {
		n = memoryShards
	}
	m := &Memory{shards: make([]memoryShard, n), now: now}
	for i := range m.shards {
		// Spread the remainder so that the shards sum to maxEntries.
		sh := &m.shards[i]
		sh.max = maxEntries / n
		if i < maxEntries%n {
			sh.max++
		}
		sh.until = make(map[digest]int64)
	}
	return m
}

// Claim implements Cache.
func (m *Memory) Claim(ctx context.Context, scope, id string, until time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := m.now().UnixNano()
	u := until.UnixNano()
	if u <= now {
		return false, ErrPast
	}
	d := digestOf(scope, id)
	sh := &m.shards[int(d[0])%len(m.shards)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	// Dropping what expired on every claim keeps the map and the heap
	// to the live ids; it costs one comparison when nothing expired.
	sh.sweep(now)
	if _, ok := sh.until[d]; ok {
		return false, nil
	}
	if len(sh.until) >= sh.max {
		return false, ErrFull
	}
	sh.until[d] = u
	sh.order.push(expiryItem{d: d, until: u})
	return true, nil
}

// Len returns the number of ids held, expired ones not yet swept included.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		n += len(sh.until)
		sh.mu.Unlock()
	}
	return n
}

// sweep drops every id whose window ended at or before now. Each id in
// the map has exactly one heap item (an id is added only when absent), so
// the two stay the same size.
func (sh *memoryShard) sweep(now int64) {
	for len(sh.order) > 0 && sh.order[0].until <= now {
		delete(sh.until, sh.order.pop().d)
	}
}

type expiryItem struct {
	d     digest
	until int64
}

// expiryHeap is a binary min-heap of ids by the end of their window.
// Written out rather than through container/heap, whose interface{}
// arguments would allocate on every claim.
type expiryHeap []expiryItem

func (h *expiryHeap) push(it expiryItem) {
	*h = append(*h, it)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].until <= s[i].until {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *expiryHeap) pop() expiryItem {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].until < s[m].until {
			m = l
		}
		if r < len(s) && s[r].until < s[m].until {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
