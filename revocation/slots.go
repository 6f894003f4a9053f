package revocation

// slots is an open-addressing hash table from key hashes to values, with
// linear probing, that holds a million entries in about 12 to 20 bytes
// each where a Go map takes about 40: the keys and values sit in two
// arrays without per-entry overhead, filled to between 7/12 and 7/8.
//
// A stored key is never 0, which marks an empty slot; callers map a zero
// hash to another value (see slotKey). It is not safe for concurrent use;
// a shard's lock guards it.
type slots[V any] struct {
	keys []uint64
	vals []V
	n    int
}

// minSlots is the capacity of a table's first allocation.
const minSlots = 16

// slotKey is the key under which hash h is stored: h, except that 0, the
// empty mark, becomes 1. Two hashes that meet this way are one more
// collision, which can only make a lookup report an entry, never miss one.
func slotKey(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}

// home is where the probe for k starts: bits 16 to 47 of k scaled to the
// capacity. The shard was chosen by the top bits and the Bloom filter
// block by bits 32 to 63, but the hash is uniform, so that costs nothing.
func (s *slots[V]) home(k uint64) int {
	return int(uint64(uint32(k>>16)) * uint64(len(s.keys)) >> 32)
}

// find returns the slot holding k, or the empty slot where it would go.
// The table is never full, so the probe ends.
func (s *slots[V]) find(k uint64) (int, bool) {
	i := s.home(k)
	for {
		switch s.keys[i] {
		case k:
			return i, true
		case 0:
			return i, false
		}
		if i++; i == len(s.keys) {
			i = 0
		}
	}
}

// get returns the value stored for k.
func (s *slots[V]) get(k uint64) (V, bool) {
	if s.n == 0 {
		var zero V
		return zero, false
	}
	i, ok := s.find(k)
	return s.vals[i], ok
}

// set stores v for k, growing the table first when it would be more than
// 7/8 full. It reports whether k is new.
func (s *slots[V]) set(k uint64, v V) bool {
	if len(s.keys) == 0 || (s.n+1)*8 > len(s.keys)*7 {
		s.resize(max(minSlots, len(s.keys)*3/2))
	}
	i, found := s.find(k)
	s.keys[i], s.vals[i] = k, v
	if !found {
		s.n++
	}
	return !found
}

// resize moves every entry into a table of capacity slots.
func (s *slots[V]) resize(capacity int) {
	old, oldVals := s.keys, s.vals
	s.keys, s.vals = make([]uint64, capacity), make([]V, capacity)
	for j, k := range old {
		if k != 0 {
			i, _ := s.find(k)
			s.keys[i], s.vals[i] = k, oldVals[j]
		}
	}
}

// deleteAt empties slot i and moves later entries of its probe run back
// (backward-shift deletion), so that no probe stops early at the hole.
// Entries only ever move back to i's position or into the hole they
// leave, never past a slot a forward scan has yet to visit.
func (s *slots[V]) deleteAt(i int) {
	var zero V
	c := len(s.keys)
	for j := i; ; {
		if j++; j == c {
			j = 0
		}
		k := s.keys[j]
		if k == 0 {
			break
		}
		// k may fill the hole at i unless its home lies cyclically in
		// (i, j], after the hole.
		h := s.home(k)
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			s.keys[i], s.vals[i] = k, s.vals[j]
			i = j
		}
	}
	s.keys[i], s.vals[i] = 0, zero
	s.n--
}

// deleteIf deletes every entry for which drop returns true and returns how
// many it deleted. Afterwards it shrinks the table if it is less than a
// quarter full.
func (s *slots[V]) deleteIf(drop func(V) bool) int {
	removed := 0
	for i := 0; i < len(s.keys); i++ {
		// A deletion pulls a later entry into slot i; look at it too.
		for s.keys[i] != 0 && drop(s.vals[i]) {
			s.deleteAt(i)
			removed++
		}
	}
	if len(s.keys) > minSlots && s.n*4 < len(s.keys) {
		if s.n == 0 {
			s.keys, s.vals = nil, nil
		} else {
			s.resize(max(minSlots, s.n*2))
		}
	}
	return removed
}

// each calls fn with every stored key.
func (s *slots[V]) each(fn func(k uint64)) {
	for _, k := range s.keys {
		if k != 0 {
			fn(k)
		}
	}
}
