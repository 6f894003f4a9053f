package revocation

import (
	"math/rand/v2"
	"testing"
)

// checkSlots compares s with the map it should equal, and checks that
// every stored key is reachable from its home without crossing an empty
// slot (the invariant deletion must keep).
func checkSlots(t *testing.T, s *slots[expiry], want map[uint64]expiry) {
	t.Helper()
	if s.n != len(want) {
		t.Fatalf("n = %d, want %d", s.n, len(want))
	}
	for k, v := range want {
		got, ok := s.get(k)
		if !ok || got != v {
			t.Fatalf("get(%#x) = %d, %v; want %d", k, got, ok, v)
		}
	}
	stored := 0
	for i, k := range s.keys {
		if k == 0 {
			continue
		}
		stored++
		if _, ok := want[k]; !ok {
			t.Fatalf("slot %d holds %#x, which was deleted", i, k)
		}
		for j := s.home(k); j != i; j = (j + 1) % len(s.keys) {
			if s.keys[j] == 0 {
				t.Fatalf("key %#x at %d is cut off from its home %d by an empty slot at %d", k, i, s.home(k), j)
			}
		}
	}
	if stored != s.n {
		t.Fatalf("%d keys stored, n = %d", stored, s.n)
	}
	if len(s.keys) > 0 && s.n*8 > len(s.keys)*7 {
		t.Fatalf("%d entries in %d slots: over 7/8 full", s.n, len(s.keys))
	}
}

// TestSlotsAgainstMap runs random sets and deletions against a Go map,
// with keys drawn so that many share a home slot and runs wrap around the
// end of the array.
func TestSlotsAgainstMap(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 7))
		var s slots[expiry]
		want := map[uint64]expiry{}
		// Keys whose home bits take few values collide on purpose.
		homes := 1 + r.IntN(64)
		key := func() uint64 {
			k := uint64(r.IntN(homes))<<16 | uint64(r.IntN(1<<16))
			if r.IntN(4) == 0 {
				k = r.Uint64()
			}
			if r.IntN(8) == 0 {
				k |= 0xffffffff << 16 // the last home: runs wrap
			}
			return slotKey(k)
		}
		for op := range 4000 {
			switch {
			case r.IntN(10) < 7:
				k, v := key(), expiry(1+r.IntN(50))
				isNew := s.set(k, v)
				if _, had := want[k]; isNew == had {
					t.Fatalf("seed %d op %d: set(%#x) reported new=%v, map had it: %v", seed, op, k, isNew, had)
				}
				want[k] = v
			default:
				cut := expiry(1 + r.IntN(50))
				n := s.deleteIf(func(v expiry) bool { return v <= cut })
				removed := 0
				for k, v := range want {
					if v <= cut {
						delete(want, k)
						removed++
					}
				}
				if n != removed {
					t.Fatalf("seed %d op %d: deleteIf removed %d, want %d", seed, op, n, removed)
				}
			}
			if op%50 == 0 {
				checkSlots(t, &s, want)
			}
		}
		checkSlots(t, &s, want)
		for k := range want {
			if _, ok := s.get(k ^ 1<<63); ok {
				if _, inMap := want[k^1<<63]; !inMap {
					t.Fatalf("get of an absent key found it")
				}
			}
		}
	}
}

// TestSlotsShrinkAndEmpty: a table that emptied gives its arrays back, and
// one that fell under a quarter full shrinks.
func TestSlotsShrinkAndEmpty(t *testing.T) {
	var s slots[expiry]
	for i := range uint64(10_000) {
		s.set(slotKey(i*0x9e3779b97f4a7c15), expiry(1+i%4))
	}
	big := len(s.keys)
	s.deleteIf(func(v expiry) bool { return v <= 3 })
	if s.n != 2500 || len(s.keys) >= big {
		t.Fatalf("after deleting 3/4: n %d in %d slots (was %d)", s.n, len(s.keys), big)
	}
	s.deleteIf(func(expiry) bool { return true })
	if s.n != 0 || s.keys != nil {
		t.Fatalf("after deleting all: n %d, %d slots", s.n, len(s.keys))
	}
	if _, ok := s.get(1); ok {
		t.Fatal("get on an empty table found a key")
	}
}

func TestSlotKeyAndExpiryOf(t *testing.T) {
	if slotKey(0) != 1 || slotKey(5) != 5 {
		t.Fatal("slotKey")
	}
	for in, want := range map[int64]expiry{-5: 1, 0: 1, 1: 1, 1_900_000_000: 1_900_000_000, 1 << 40: 1<<32 - 1} {
		if got := expiryOf(in); got != want {
			t.Errorf("expiryOf(%d) = %d, want %d", in, got, want)
		}
	}
}
