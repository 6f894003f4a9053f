package replay

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

func TestMemoryContract(t *testing.T) {
	runContract(t, func(t *testing.T) (Cache, Cache) {
		m := NewMemory(1 << 16)
		return m, m
	})
}

func TestMemoryForgetsAfterUntil(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1_800_000_000, 0))
	m := newMemory(10, clock.Now)
	until := clock.Now().Add(time.Minute)
	wantClaim(t, m, "s", "a", until, true)
	clock.Advance(time.Minute - time.Nanosecond)
	wantClaim(t, m, "s", "a", until, false)
	clock.Advance(time.Nanosecond)
	// The window is over: a claim with a new window succeeds once.
	wantClaim(t, m, "s", "a", clock.Now().Add(time.Minute), true)
	wantClaim(t, m, "s", "a", clock.Now().Add(time.Minute), false)
	if n := m.Len(); n != 1 {
		t.Fatalf("Len = %d, want 1", n)
	}
}

func TestMemoryFullRefusesNewIDs(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1_800_000_000, 0))
	const max = 5
	m := newMemory(max, clock.Now)
	short := clock.Now().Add(time.Second)
	long := clock.Now().Add(time.Hour)
	// A flood of fresh ids fills the cache.
	for i := range max {
		wantClaim(t, m, "s", "flood-"+strconv.Itoa(i), long, true)
	}
	first, err := m.Claim(t.Context(), "s", "new", short)
	if !errors.Is(err, ErrFull) || first {
		t.Fatalf("Claim on a full cache = %v, %v; want false, ErrFull", first, err)
	}
	// The ids it holds are still refused as replays, never forgotten.
	for i := range max {
		wantClaim(t, m, "s", "flood-"+strconv.Itoa(i), long, false)
	}
}

func TestMemoryFullDropsExpiredFirst(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1_800_000_000, 0))
	m := newMemory(3, clock.Now)
	wantClaim(t, m, "s", "early", clock.Now().Add(time.Second), true)
	wantClaim(t, m, "s", "mid", clock.Now().Add(2*time.Second), true)
	wantClaim(t, m, "s", "late", clock.Now().Add(time.Hour), true)
	clock.Advance(time.Second)
	wantClaim(t, m, "s", "new", clock.Now().Add(time.Hour), true)
	if _, err := m.Claim(t.Context(), "s", "newer", clock.Now().Add(time.Hour)); !errors.Is(err, ErrFull) {
		t.Fatalf("err = %v, want ErrFull (mid, late and new are live)", err)
	}
	clock.Advance(time.Second)
	wantClaim(t, m, "s", "newer", clock.Now().Add(time.Hour), true)
	wantClaim(t, m, "s", "late", clock.Now().Add(time.Hour), false)
}

func TestMemoryShardsSumToMax(t *testing.T) {
	for _, n := range []int{0, 1, 7, memoryShards * minEntriesPerShard, memoryShards*minEntriesPerShard + 5, 1 << 20} {
		m := NewMemory(n)
		sum := 0
		for i := range m.shards {
			sum += m.shards[i].max
		}
		want := max(n, 1)
		if sum != want {
			t.Errorf("NewMemory(%d): shards hold %d, want %d", n, sum, want)
		}
	}
}

func TestMemoryHeapOrder(t *testing.T) {
	var h expiryHeap
	for _, u := range []int64{5, 3, 9, 1, 7, 2, 8, 6, 4, 0} {
		h.push(expiryItem{until: u})
	}
	for want := int64(0); want < 10; want++ {
		if got := h.pop().until; got != want {
			t.Fatalf("pop = %d, want %d", got, want)
		}
	}
}
