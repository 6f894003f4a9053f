package revocation

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestSIDSetContains(t *testing.T) {
	for _, n := range []int{1, 7, 63, 64, 65, 1000, 100_000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			sids := make([]string, n)
			for i := range sids {
				sids[i] = fmt.Sprintf("sid-%d", i)
			}
			// Duplicates count once.
			set := NewSIDSet(append(sids, sids[:n/2+1]...))
			if set.Len() != n {
				t.Fatalf("Len = %d, want %d", set.Len(), n)
			}
			for _, s := range sids {
				if !set.Contains(s) {
					t.Fatalf("Contains(%q) = false", s)
				}
			}
			for i := range 1000 {
				if s := fmt.Sprintf("other-%d", i); set.Contains(s) {
					t.Fatalf("Contains(%q) = true", s)
				}
			}
		})
	}
}

// TestSIDSetBuckets places hashes at the edges of the lookup buckets,
// where an off-by-one would lose them.
func TestSIDSetBuckets(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var hs []uint64
	for range 5000 {
		hs = append(hs, r.Uint64())
	}
	hs = append(hs, 0, 1, ^uint64(0), ^uint64(0)-1, 1<<63, 1<<63-1)
	for b := uint64(1); b < 1<<9; b++ {
		hs = append(hs, b<<(64-9), b<<(64-9)-1)
	}
	slices.Sort(hs)
	hs = slices.Compact(hs)
	set, err := SIDSetFromHashes(slices.Clone(hs))
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Hashes(); !slices.Equal(got, hs) {
		t.Fatalf("Hashes gives %d hashes, not the %d given in order", len(got), len(hs))
	}
	for _, h := range hs {
		if !set.containsHash(h) {
			t.Fatalf("containsHash(%#x) = false", h)
		}
		if h > 0 && !slices.Contains(hs, h-1) && set.containsHash(h-1) {
			t.Fatalf("containsHash(%#x) = true", h-1)
		}
	}
}

func TestSIDSetFromHashesRefusesDisorder(t *testing.T) {
	for name, hs := range map[string][]uint64{
		"descending": {3, 2},
		"duplicate":  {1, 1},
	} {
		if _, err := SIDSetFromHashes(hs); err == nil {
			t.Errorf("%s: SIDSetFromHashes accepted %v", name, hs)
		}
	}
	if s, err := SIDSetFromHashes(nil); err != nil || s.Len() != 0 {
		t.Fatalf("SIDSetFromHashes(nil) = %v, %v", s, err)
	}
}

func TestNewSetID(t *testing.T) {
	a, b := NewSetID(), NewSetID()
	if len(a) != 22 || a == b {
		t.Fatalf("NewSetID = %q, %q; want two distinct 22-character ids", a, b)
	}
	// The ledger and the compact announcement pack such ids to 16 bytes.
	if flag, _, ok := packValue(a); !ok || flag != base64Flag {
		t.Fatalf("set id %q does not pack", a)
	}
}

func TestIndexSessionSets(t *testing.T) {
	ix := newIndex()
	exp := time.Now().Add(time.Hour).Unix()
	all := Entry{Kind: KindSIDSet, Value: NewSetID(), Set: NewSIDSet([]string{"s1", "s2"}), ExpiresAt: exp}
	scoped := Entry{Kind: KindSIDSet, Provider: "corp", Value: NewSetID(), Set: NewSIDSet([]string{"s3"}), ExpiresAt: exp + 10}
	for _, e := range []Entry{all, scoped} {
		if _, changed := ix.add(e); !changed {
			t.Fatalf("add %s: not added", e.Value)
		}
	}
	if got, changed := ix.add(all); changed || got.Set != all.Set {
		t.Fatalf("re-add = %+v, %v; want unchanged", got, changed)
	}
	// A later record of the same set extends it and keeps its content.
	later := all
	later.ExpiresAt, later.Set = exp+20, NewSIDSet([]string{"ignored"})
	if got, changed := ix.add(later); !changed || got.Set != all.Set || got.ExpiresAt != exp+20 {
		t.Fatalf("add later = %+v, %v", got, changed)
	}
	if ix.current(all) || !ix.current(later) {
		t.Fatal("current does not follow the later expiry")
	}
	for _, tc := range []struct {
		provider, sid string
		want          error
	}{
		{"corp", "s1", ErrRevoked},
		{"", "s2", ErrRevoked},
		{"corp", "s3", ErrRevoked},
		{"other", "s3", nil},
		{"", "s3", nil},
		{"corp", "ignored", nil},
		{"corp", "s4", nil},
	} {
		if got := ix.Check(tc.provider, "", tc.sid, "", 0); got != tc.want {
			t.Errorf("Check(%q, sid %q) = %v, want %v", tc.provider, tc.sid, got, tc.want)
		}
	}
	if ix.Len(KindSIDSet) != 2 || ix.SetSessions() != 3 {
		t.Fatalf("Len = %d, SetSessions = %d; want 2, 3", ix.Len(KindSIDSet), ix.SetSessions())
	}
	if n := ix.sweep(time.Unix(exp+15, 0)); n != 1 {
		t.Fatalf("sweep dropped %d, want 1", n)
	}
	if ix.Check("corp", "", "s3", "", 0) != nil || ix.Check("corp", "", "s1", "", 0) != ErrRevoked {
		t.Fatal("sweep dropped the wrong set")
	}
	if n := testing.AllocsPerRun(1000, func() { _ = ix.Check("corp", "j", "s9", "u", 5) }); n != 0 {
		t.Fatalf("Check with a session set allocates %.1f times per call, want 0", n)
	}
}

func TestLedgerKeepsSetRecords(t *testing.T) {
	e := Entry{Kind: KindSIDSet, Provider: "corp", Value: NewSetID(), Set: NewSIDSet([]string{"a"}), ExpiresAt: 7, CreatedAt: 8}
	got, rest, ok := decodeRecord(appendRecord(nil, e))
	want := e
	want.Set = nil // the index keeps the content
	if !ok || got != want || len(rest) != 0 {
		t.Fatalf("decode = %+v, %v; want %+v", got, ok, want)
	}
}

// BenchmarkIndexCheckSIDSet1M is the miss path of a token with a sid
// while a session set of a million sessions applies to it; compare with
// BenchmarkIndexCheckSIDSetNone, the same without the set.
func BenchmarkIndexCheckSIDSet1M(b *testing.B) { benchSIDSet(b, 1_000_000) }

// BenchmarkIndexCheckSIDSetNone is BenchmarkIndexCheckSIDSet1M without a
// set.
func BenchmarkIndexCheckSIDSetNone(b *testing.B) { benchSIDSet(b, 0) }

func benchSIDSet(b *testing.B, n int) {
	ix := newIndex()
	exp := time.Now().Add(time.Hour).Unix()
	fillJTIs(b, ix, 1_000_000, exp)
	if n > 0 {
		ix.add(Entry{Kind: KindSIDSet, Value: NewSetID(), Set: NewSIDSet(uuidLike(rand.New(rand.NewPCG(7, 8)), n)), ExpiresAt: exp})
	}
	benchMisses(b, func(p string) error { return ix.Check("corp", p, p, "", 0) })
}
