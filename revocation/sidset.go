package revocation

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/cespare/xxhash/v2"
)

// MaxSetSessions is the largest number of sessions one KindSIDSet entry
// may hold: ten million, 80 MB of hashes.
const MaxSetSessions = 10_000_000

// SIDSet is the content of a KindSIDSet entry: the sorted, deduplicated
// 64-bit xxhash (XXH64, seed 0) of each revoked session id. It is
// immutable once built, so an Entry and every copy of it share one.
//
// The hash is a stable public function, so that every process and store
// computes the same set. It is not keyed: a sid is minted by an issuer,
// and a token holder cannot choose one that collides with another
// session's. A chance collision (about n/2^64 per check for a set of n
// sessions) can only deny a token, never allow one.
type SIDSet struct {
	// table holds the hashes, each at its home slot (its position scaled
	// to the table's size) or the first free one after, in ascending
	// order (ordered linear probing), with 0 for a free slot; about 1.25
	// slots per hash. A lookup reads one cache line or two where a binary
	// search would miss the cache many times; read in order, the table
	// gives the hashes sorted.
	table   []uint64
	homes   uint64 // slots a hash may call home: table[:homes]
	hasZero bool   // the hash 0, which marks a free slot, is in the set
	n       int    // hashes held
	// filter answers most lookups of a session not in the set from the
	// CPU caches (1.5 MiB per million sessions, see filter), where the
	// table (10 MiB) would cost a miss to memory.
	filter *filter
}

// HashSID is the hash a SIDSet holds for session id sid.
func HashSID(sid string) uint64 { return xxhash.Sum64String(sid) }

// NewSIDSet returns the set of the given session ids, without duplicates.
// It takes ownership of nothing: sids may be reused.
func NewSIDSet(sids []string) *SIDSet {
	h := make([]uint64, len(sids))
	for i, s := range sids {
		h[i] = HashSID(s)
	}
	return newSIDSetOwned(h)
}

// SIDSetBuilder collects session ids, or their hashes, into a SIDSet.
// The zero value is ready to use.
type SIDSetBuilder struct{ hashes []uint64 }

// Add adds session id sid.
func (b *SIDSetBuilder) Add(sid string) { b.hashes = append(b.hashes, HashSID(sid)) }

// AddHash adds a hash as HashSID returns it.
func (b *SIDSetBuilder) AddHash(h uint64) { b.hashes = append(b.hashes, h) }

// Len returns how many ids were added, duplicates included.
func (b *SIDSetBuilder) Len() int { return len(b.hashes) }

// Set returns the set of what was added. The builder is empty afterwards.
func (b *SIDSetBuilder) Set() *SIDSet {
	h := b.hashes
	b.hashes = nil
	return newSIDSetOwned(h)
}

// newSIDSetOwned sorts and deduplicates h, which it keeps.
func newSIDSetOwned(h []uint64) *SIDSet {
	slices.Sort(h)
	return buildSIDSet(slices.Compact(h))
}

// errSetNotSorted is returned for hashes that are not strictly ascending.
var errSetNotSorted = errors.New("session set hashes are not strictly ascending")

// SIDSetFromHashes returns the set holding hashes, which must be strictly
// ascending (as SIDSet.Hashes gives them).
func SIDSetFromHashes(hashes []uint64) (*SIDSet, error) {
	b := NewSortedSIDSetBuilder(len(hashes))
	for _, h := range hashes {
		if err := b.Add(h); err != nil {
			return nil, err
		}
	}
	return b.Set(), nil
}

func buildSIDSet(h []uint64) *SIDSet {
	b := NewSortedSIDSetBuilder(len(h))
	for _, x := range h {
		_ = b.Add(x) // sorted and deduplicated by the caller
	}
	return b.Set()
}

// SortedSIDSetBuilder builds a SIDSet from hashes given in strictly
// ascending order, as a store reads them back, without holding them twice.
type SortedSIDSetBuilder struct {
	s     *SIDSet
	next  uint64 // the first slot after the last one filled
	added int
	last  uint64
}

// NewSortedSIDSetBuilder returns a builder for a set of about n hashes.
func NewSortedSIDSetBuilder(n int) *SortedSIDSetBuilder {
	homes := uint64(n + n/4 + 1)
	return &SortedSIDSetBuilder{s: &SIDSet{homes: homes, table: make([]uint64, homes, homes+16), filter: newFilter(int64(n + n/4))}}
}

// Add adds hash x, which must be greater than the one added before.
func (b *SortedSIDSetBuilder) Add(x uint64) error {
	if b.added > 0 && x <= b.last {
		return fmt.Errorf("%w: at %d", errSetNotSorted, b.added)
	}
	b.added++
	b.last = x
	s := b.s
	s.n++
	if x == 0 {
		s.hasZero = true
		return nil
	}
	i := max(s.home(x), b.next)
	for uint64(len(s.table)) <= i {
		s.table = append(s.table, 0)
	}
	s.table[i] = x
	s.filter.addPlain(x)
	b.next = i + 1
	return nil
}

// Set returns the set of what was added. The builder must not be used
// afterwards.
func (b *SortedSIDSetBuilder) Set() *SIDSet { return b.s }

// home is the slot where a lookup of x starts: x scaled to [0, homes),
// which keeps the hashes' order.
func (s *SIDSet) home(x uint64) uint64 {
	hi, _ := bits.Mul64(x, s.homes)
	return hi
}

// Len returns how many distinct sessions the set holds. A nil set holds
// none.
func (s *SIDSet) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// Hashes returns the set's hashes, strictly ascending, in a new slice.
func (s *SIDSet) Hashes() []uint64 {
	if s == nil {
		return nil
	}
	out := make([]uint64, 0, s.n)
	if s.hasZero {
		out = append(out, 0)
	}
	for _, v := range s.table {
		if v != 0 {
			out = append(out, v)
		}
	}
	return out
}

// Contains reports whether session id sid is in the set.
func (s *SIDSet) Contains(sid string) bool { return s.containsHash(HashSID(sid)) }

// containsHash reports whether h is in the set. It does not allocate.
func (s *SIDSet) containsHash(h uint64) bool {
	if h == 0 {
		return s.hasZero
	}
	if !s.filter.mayContain(h) {
		return false
	}
	// From its home slot on, a run holds ascending hashes up to the
	// first free slot: h is there before any larger hash, or not at all.
	for _, v := range s.table[s.home(h):] {
		if v == 0 || v >= h {
			return v == h
		}
	}
	return false
}

// Equal reports whether s and o hold the same sessions.
func (s *SIDSet) Equal(o *SIDSet) bool { return s == o || slices.Equal(s.Hashes(), o.Hashes()) }

// NewSetID returns a fresh random identifier for a KindSIDSet entry: 16
// random bytes in unpadded base64url, 22 characters.
func NewSetID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}
