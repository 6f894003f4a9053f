package cache

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"unsafe"
)

func TestGetAddExpiry(t *testing.T) {
	c, err := New[string](100)
	if err != nil {
		t.Fatal(err)
	}
	k := KeyOf("token-a")
	c.Add(k, "a", 100)
	if v, ok := c.Get(k, 99); !ok || v != "a" {
		t.Fatalf("Get before expiry = %q %v", v, ok)
	}
	if _, ok := c.Get(k, 100); ok {
		t.Fatal("served at expiry")
	}
	if c.Len() != 0 {
		t.Fatalf("expired entry kept: len %d", c.Len())
	}
}

// TestSharedSlot: two keys whose first 8 bytes agree share a map slot;
// neither may read or remove the other's entry.
func TestSharedSlot(t *testing.T) {
	c, _ := New[string](100)
	a := KeyOf("token-a")
	b := a
	b[20] ^= 1
	c.Add(a, "a", 100)
	if v, ok := c.Get(b, 0); ok {
		t.Fatalf("key b read a's entry: %q", v)
	}
	c.Remove(b)
	if v, ok := c.Get(a, 0); !ok || v != "a" {
		t.Fatalf("Remove(b) dropped a's entry: %q %v", v, ok)
	}
	c.Add(b, "b", 100)
	if _, ok := c.Get(a, 0); ok {
		t.Fatal("a still served after b took the slot")
	}
	if v, ok := c.Get(b, 0); !ok || v != "b" {
		t.Fatalf("Get(b) = %q %v", v, ok)
	}
}

func TestExpiryRange(t *testing.T) {
	c, _ := New[int](100)
	far, past := KeyOf("far"), KeyOf("past")
	c.Add(far, 1, math.MaxInt64)
	if _, ok := c.Get(far, math.MaxUint32-1); !ok {
		t.Error("an expiry past 2106 was not kept as 2106")
	}
	if _, ok := c.Get(far, math.MaxUint32); ok {
		t.Error("served after 2106")
	}
	c.Add(past, 1, -5)
	c.Add(past, 1, 0)
	if c.Len() != 0 {
		t.Errorf("an expiry at or before 1970 was stored: len %d", c.Len())
	}
}

// TestEntryLayout guards the size the allocator sees: with a pointer
// value an entry is 32 bytes, which makes golang-lru's list element 96.
func TestEntryLayout(t *testing.T) {
	if n := unsafe.Sizeof(entry[*int]{}); n != 32 {
		t.Errorf("entry with a pointer value is %d bytes, want 32", n)
	}
}

func TestBounded(t *testing.T) {
	c, _ := New[int](64)
	for i := range 1000 {
		c.Add(KeyOf(fmt.Sprint(i)), i, 1<<40)
	}
	if n := c.Len(); n > 64 {
		t.Fatalf("len %d exceeds bound", n)
	}
	if _, ok := c.Get(KeyOf("999"), 0); !ok {
		t.Fatal("most recent entry evicted")
	}
}

func TestDisabled(t *testing.T) {
	c, err := New[int](0)
	if err != nil || c != nil {
		t.Fatalf("New(0) = %v, %v", c, err)
	}
	c.Add(KeyOf("x"), 1, 1<<40)
	if _, ok := c.Get(KeyOf("x"), 0); ok || c.Len() != 0 {
		t.Fatal("disabled cache served an entry")
	}
	c.Purge()
	c.Remove(KeyOf("x"))
}

func TestConcurrent(t *testing.T) {
	c, _ := New[int](1000)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := KeyOf(fmt.Sprint(g, i%300))
				c.Add(k, i, 1<<40)
				c.Get(k, 0)
				if i%97 == 0 {
					c.Remove(k)
				}
			}
		}()
	}
	wg.Wait()
	c.Purge()
	if c.Len() != 0 {
		t.Fatal("purge left entries")
	}
}

func BenchmarkGetHit(b *testing.B) {
	c, _ := New[int](100000)
	tok := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl"
	c.Add(KeyOf(tok), 1, 1<<40)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := c.Get(KeyOf(tok), 0); !ok {
				b.Fatal("miss")
			}
		}
	})
}
