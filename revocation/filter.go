package revocation

import (
	"sync/atomic"
)

// filter is a split-block Bloom filter over key hashes: each key sets one
// bit in each of the eight 32-bit words of one 32-byte block, so a lookup
// reads a single cache line. It answers "certainly absent" or "maybe
// present"; the index consults its tables only for "maybe". Rebuilt at 12.5
// bits per entry (filterBits plus a quarter of headroom) it lets about 1 in
// 150 absent keys through, 1 in 80 once it has filled to capacity, and at
// 1.5 MiB per million entries it stays in the CPU caches where a
// million-entry table (about 20 MiB) cannot; that is what keeps the common
// not-revoked lookup fast.
//
// Bits are set and read with atomic operations, so lookups need no lock.
// Bits are never cleared: deleted keys linger as false positives until the
// filter is rebuilt (see table.maintain).
type filter struct {
	blocks   []filterBlock
	capacity int64        // entries it was sized for
	added    atomic.Int64 // adds since it was built
}

type filterBlock [8]uint32

// filterBits is the filter size per entry of capacity. Fewer bits let more
// lookups through to the maps; more bits push the filter out of the
// caches, which costs more than those lookups.
const filterBits = 10

// minFilterCapacity keeps small tables from rebuilding at every new entry.
const minFilterCapacity = 4096

// filterSalt are odd constants that spread a key's 32 low hash bits into
// one bit position per word (from the Parquet split-block Bloom filter).
var filterSalt = [8]uint32{
	0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d,
	0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31,
}

func newFilter(capacity int64) *filter {
	capacity = max(capacity, minFilterCapacity)
	n := (capacity*filterBits + 255) / 256
	return &filter{blocks: make([]filterBlock, n), capacity: capacity}
}

// block picks the block from the high 32 bits of h; the low 32 bits pick
// the bits within it.
func (f *filter) block(h uint64) *filterBlock {
	return &f.blocks[((h>>32)*uint64(len(f.blocks)))>>32]
}

func (f *filter) add(h uint64) {
	b, x := f.block(h), uint32(h)
	for i := range b {
		atomic.OrUint32(&b[i], 1<<((x*filterSalt[i])>>27))
	}
	f.added.Add(1)
}

// addPlain is add for a filter no other goroutine sees yet (one being
// built): plain writes instead of atomic ones, several times faster.
func (f *filter) addPlain(h uint64) {
	b, x := f.block(h), uint32(h)
	for i := range b {
		b[i] |= 1 << ((x * filterSalt[i]) >> 27)
	}
}

// mayContain reports false only if h was never added.
func (f *filter) mayContain(h uint64) bool {
	b, x := f.block(h), uint32(h)
	for i := range b {
		if atomic.LoadUint32(&b[i])&(1<<((x*filterSalt[i])>>27)) == 0 {
			return false
		}
	}
	return true
}
